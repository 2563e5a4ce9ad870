"""A blob store in a local directory: one file per blob, made visible by an atomic rename."""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self
from urllib.parse import unquote, urlsplit

from .._constants import CHUNK_SIZE, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE
from .._exceptions import (
    BlobExistsError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
    ConfigurationError,
    InvalidNameError,
    InvalidPartError,
    UploadNotFoundError,
)
from .._names import validate_key
from ._protocol import BlobInfo, Data, PartResult, PutMode, PutResult
from ._reader import ChunkStream, resolve_range

__all__ = ["FileBlobStore"]

# Work in progress lives under the root, so a rename into place never crosses filesystems,
# and under names no key may take, so ``list`` never shows it.
_TMP_DIR = ".tmp"
_MULTIPART_DIR = ".multipart"
_RESERVED = frozenset({_TMP_DIR, _MULTIPART_DIR})
_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")
_KEY_FILE = "key"
#: Temporary files older than this are leftovers of a crash, removed when a store opens.
_STALE_TMP_SECONDS = 24 * 3600.0
#: Suffix of a folder moved under ``.tmp/`` to be deleted: nothing uses it any more.
_GONE_SUFFIX = ".gone"


class FileBlobStore:
    """Blobs as files under ``root``; keys are ``/``-separated paths relative to it.

    A put writes a temporary file, fsyncs it, renames it into place and fsyncs the
    directory, so a reader sees the old file or the new one, never part of one, and a
    completed put survives a crash. ``mode="create"`` hard-links the temporary file to the
    final name, which the kernel refuses if the name exists: two racing creates cannot
    both win. A key cannot be both a blob and the directory of other blobs (``a`` and
    ``a/b``); such a put raises ``InvalidNameError``.

    :param root: the directory holding the blobs; created if missing.
    :param min_part_size: the smallest size of every multipart part but the last, checked
        at ``complete_multipart`` as S3 does (tests lower it).
    """

    def __init__(self, root: str | os.PathLike[str], *, min_part_size: int = MIN_PART_SIZE) -> None:
        self._root = Path(root).resolve()
        self._min_part_size = min_part_size
        self._cleaner: ThreadPoolExecutor | None = None
        self._cleaner_lock = threading.Lock()
        try:
            (self._root / _TMP_DIR).mkdir(parents=True, exist_ok=True)
            (self._root / _MULTIPART_DIR).mkdir(exist_ok=True)
        except OSError as exc:
            raise BlobStoreUnavailableError(
                f"cannot use {self._root} as a blob store: {exc}"
            ) from exc
        self._remove_stale_temporaries()

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``file:///absolute/path``."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ConfigurationError(f"a file blob store URL looks like file:///path, got {url!r}")
        path = unquote(parts.path)
        if not os.path.isabs(path):
            raise ConfigurationError(f"a file blob store URL needs an absolute path, got {url!r}")
        return cls(path)

    @property
    def root(self) -> Path:
        return self._root

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult:
        """Write ``key`` whole: a temporary file, fsynced, renamed into place."""
        path = self._path(key)
        tmp, size, etag = self._write_temporary(data, limit=None)
        try:
            self._install(tmp, path, key, create=mode == "create")
        finally:
            _unlink_quietly(tmp)
        return PutResult(key=key, size=size, etag=etag)

    def put_unpublished(self, key: str, data: Data) -> PutResult:
        """Write a new ``key`` nothing reads until the caller publishes it elsewhere.

        The bytes are written in place (no temporary file, rename or clean-up; the name
        must not exist) and fsynced, but the directory's fsync is left to a later
        ``sync_dirs``, so that many such puts share one. Until then a crash may lose the
        name; a crash mid-write leaves a partial file no record names, which the collector
        sweeps like any orphan.
        """
        size, etag = self._write_new(self._path(key), key, data)
        return PutResult(key=key, size=size, etag=etag)

    def sync_dirs(self, keys: Iterable[str]) -> None:
        """Make the names of ``keys`` durable: one fsync per distinct directory."""
        for folder in {self._path(key).parent for key in keys}:
            _fsync_dir(folder)

    def discard(self, key: str) -> None:
        """Delete ``key`` without waiting for the directory to reach the disk.

        For copies nobody may rely on being gone (staging): should a crash bring one back,
        it is an orphan the collector sweeps like any other.
        """
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            self._path(key).unlink()

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        file = self._open(key)
        try:
            first, stop = resolve_range(start, end, os.fstat(file.fileno()).st_size)
            file.seek(first)
        except BaseException:
            file.close()
            raise
        return ChunkStream(file.read, file.close, stop - first)

    def head(self, key: str) -> BlobInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFoundError(f"no blob under {key!r}") from None
        if not path.is_file():
            raise BlobNotFoundError(f"no blob under {key!r}")
        return _info(key, st)

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except BlobNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        _fsync_dir(path.parent)
        self._prune(path.parent)

    def copy(self, source: str, destination: str) -> None:
        dest = self._path(destination)
        if self._link_copy(source, dest, destination):
            return
        src = self._open(source)
        fd, name = tempfile.mkstemp(dir=self._root / _TMP_DIR)
        tmp = Path(name)
        try:
            with src, open(fd, "wb") as out:
                _append(src.fileno(), out)
                out.flush()
                os.fsync(out.fileno())
            self._install(tmp, dest, destination, create=False)
        finally:
            _unlink_quietly(tmp)

    def _link_copy(self, source: str, dest: Path, destination: str) -> bool:
        """Copy by a second hard link to the source's file; False where links cannot be made.

        Safe because no file here is ever written in place (every put writes a new file and
        renames it), and cheap: no byte is copied or fsynced again, only the directory.
        """
        tmp = self._root / _TMP_DIR / uuid.uuid4().hex
        try:
            os.link(self._path(source), tmp)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFoundError(f"no blob under {source!r}") from None
        except OSError:
            return False
        try:
            self._install(tmp, dest, destination, create=False)
        finally:
            _unlink_quietly(tmp)
        return True

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        yield from self._walk(self._root, "", prefix)

    def create_multipart(self, key: str) -> str:
        self._path(key)
        upload_id = uuid.uuid4().hex
        folder = self._root / _MULTIPART_DIR / upload_id
        folder.mkdir()
        (folder / _KEY_FILE).write_text(key, encoding="utf-8")
        return upload_id

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        if not 1 <= part_number <= MAX_PARTS:
            raise InvalidPartError(f"part numbers run from 1 to {MAX_PARTS}, got {part_number}")
        folder = self._upload_dir(key, upload_id)
        tmp, size, etag = self._write_temporary(data, limit=MAX_PART_SIZE)
        try:
            # Replacing makes a re-sent part win whole; a concurrent abort leaves no folder.
            os.replace(tmp, folder / _part_name(part_number))
        except FileNotFoundError:
            raise UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}") from None
        finally:
            _unlink_quietly(tmp)
        return PartResult(part_number=part_number, size=size, etag=etag)

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> PutResult:
        return self._join(key, upload_id, parts, None)

    def complete_multipart_observed(
        self,
        key: str,
        upload_id: str,
        parts: builtins.list[PartResult],
        observe: Callable[[bytes], object],
    ) -> PutResult:
        return self._join(key, upload_id, parts, observe)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            folder = self._upload_dir(key, upload_id)
        except UploadNotFoundError:
            return
        self._remove_folder(folder)

    def check(self) -> None:
        if not (self._root / _TMP_DIR).is_dir() or not os.access(self._root, os.W_OK):
            raise BlobStoreUnavailableError(f"the blob directory {self._root} is not writable")

    def close(self) -> None:
        """Finish deleting the folders of completed and aborted multipart uploads."""
        with self._cleaner_lock:
            cleaner, self._cleaner = self._cleaner, None
        if cleaner is not None:
            cleaner.shutdown(wait=True)

    # -- internals -------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.endswith("/"):
            raise InvalidNameError("object key must not end with '/'")
        if "\0" in key:
            raise InvalidNameError("object key must not contain NUL")
        if key.split("/", 1)[0] in _RESERVED:
            raise InvalidNameError(f"object keys under {key.split('/', 1)[0]}/ are reserved")
        path = self._root.joinpath(*key.split("/"))
        # validate_key already forbids '..', so this only guards against a rule change there.
        if not path.is_relative_to(self._root):
            raise InvalidNameError(f"object key {key!r} leaves the store")
        return path

    def _join(
        self,
        key: str,
        upload_id: str,
        parts: builtins.list[PartResult],
        observe: Callable[[bytes], object] | None,
    ) -> PutResult:
        path = self._path(key)
        folder = self._upload_dir(key, upload_id)
        files = self._check_parts(folder, parts)
        fd, name = tempfile.mkstemp(dir=self._root / _TMP_DIR)
        tmp = Path(name)
        try:
            with open(fd, "wb") as out, ThreadPoolExecutor(1) as observer:
                for file, part in files:
                    with open(file, "rb") as src:
                        # Both passes read this one open file: a part re-sent meanwhile
                        # replaces the name, not these bytes.
                        if _etag(os.fstat(src.fileno())) != part.etag:
                            raise InvalidPartError(f"part {part.part_number} changed")
                        # The kernel copies while another thread shows the same bytes
                        # (page cache) to ``observe``: one pass's time, not two.
                        shown = observer.submit(_show, src.fileno(), observe) if observe else None
                        _append(src.fileno(), out)
                        if shown is not None:
                            shown.result()
                out.flush()
                os.fsync(out.fileno())
                st = os.fstat(out.fileno())
            self._install(tmp, path, key, create=False)
        finally:
            _unlink_quietly(tmp)
        self._remove_folder(folder)
        return PutResult(key=key, size=st.st_size, etag=_etag(st))

    def _open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFoundError(f"no blob under {key!r}") from None

    def _write_temporary(self, data: Data, *, limit: int | None) -> tuple[Path, int, str]:
        """Write ``data`` to a new fsynced file under ``.tmp/``: its path, size and etag."""
        fd, name = tempfile.mkstemp(dir=self._root / _TMP_DIR)
        tmp = Path(name)
        try:
            st = _fill(fd, data, limit)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp, st.st_size, _etag(st)

    def _write_new(self, path: Path, key: str, data: Data) -> tuple[int, str]:
        """Write ``data`` to ``path``, which must not exist, and fsync it: size and etag."""
        # A concurrent delete may prune a parent directory we just made: try again.
        for _ in range(5):
            self._make_parents(path, key)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                continue
            except FileExistsError:
                if path.is_dir():
                    raise _blob_is_directory(key) from None
                raise BlobExistsError(f"a blob already exists under {key!r}") from None
            except (IsADirectoryError, NotADirectoryError):
                raise _blob_is_directory(key) from None
            break
        else:
            raise BlobStoreUnavailableError(f"could not create the directories for {key!r}")
        try:
            st = _fill(fd, data, None)
        except BaseException:
            _unlink_quietly(path)
            raise
        return st.st_size, _etag(st)

    def _install(self, tmp: Path, path: Path, key: str, *, create: bool) -> None:
        # A concurrent delete may prune a parent directory we just made: try again.
        for _ in range(5):
            self._make_parents(path, key)
            try:
                if create:
                    os.link(tmp, path)
                else:
                    os.replace(tmp, path)
            except FileNotFoundError:
                continue
            except FileExistsError:
                if path.is_dir():
                    raise _blob_is_directory(key) from None
                raise BlobExistsError(f"a blob already exists under {key!r}") from None
            except (IsADirectoryError, NotADirectoryError):
                raise _blob_is_directory(key) from None
            _fsync_dir(path.parent)
            return
        raise BlobStoreUnavailableError(f"could not create the directories for {key!r}")

    def _make_parents(self, path: Path, key: str) -> None:
        missing: list[Path] = []
        folder = path.parent
        while folder != self._root and not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                if not folder.is_dir():
                    raise _blob_is_directory(key) from None
            except NotADirectoryError:
                raise _blob_is_directory(key) from None
            _fsync_dir(folder.parent)

    def _prune(self, folder: Path) -> None:
        """Remove directories a delete left empty, so their names may become blobs again."""
        while folder != self._root and folder.is_relative_to(self._root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def _walk(self, folder: Path, base: str, prefix: str) -> Iterator[BlobInfo]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sort as S3 does, by full key: a directory sorts as its name plus '/'.
        named = []
        for entry in entries:
            if not base and entry.name in _RESERVED:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            named.append((base + entry.name + ("/" if is_dir else ""), is_dir, entry))
        named.sort(key=lambda item: item[0])
        for name, is_dir, entry in named:
            if is_dir:
                if name.startswith(prefix) or prefix.startswith(name):
                    yield from self._walk(Path(entry.path), name, prefix)
            elif name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield _info(name, st)

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        missing = UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}")
        if not _UPLOAD_ID_RE.fullmatch(upload_id):
            raise missing
        folder = self._root / _MULTIPART_DIR / upload_id
        try:
            owner = (folder / _KEY_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise missing from None
        if owner != key:
            raise missing
        return folder

    def _check_parts(
        self, folder: Path, parts: builtins.list[PartResult]
    ) -> builtins.list[tuple[Path, PartResult]]:
        """Each part's file, in order, with the part it must still be."""
        if not parts:
            raise InvalidPartError("a multipart upload needs at least one part")
        ordered = sorted(parts, key=lambda part: part.part_number)
        files: builtins.list[tuple[Path, PartResult]] = []
        for index, part in enumerate(ordered):
            if index and part.part_number == ordered[index - 1].part_number:
                raise InvalidPartError(f"part {part.part_number} is listed twice")
            file = folder / _part_name(part.part_number)
            try:
                st = file.stat()
            except FileNotFoundError:
                raise InvalidPartError(f"part {part.part_number} was never uploaded") from None
            if _etag(st) != part.etag:
                raise InvalidPartError(f"part {part.part_number} does not match its etag")
            if index < len(ordered) - 1 and st.st_size < self._min_part_size:
                raise InvalidPartError(
                    f"part {part.part_number} holds {st.st_size} bytes; every part but the "
                    f"last must hold at least {self._min_part_size}"
                )
            files.append((file, part))
        return files

    def _remove_folder(self, folder: Path) -> None:
        """Delete a multipart upload's folder without making the caller wait for it.

        Freeing gigabytes of parts takes the file system a while; the rename makes the
        upload gone at once, and a folder a crash leaves behind goes when a store next opens.
        """
        gone = self._root / _TMP_DIR / f"{uuid.uuid4().hex}{_GONE_SUFFIX}"
        try:
            os.rename(folder, gone)
        except FileNotFoundError:
            return
        with self._cleaner_lock:
            if self._cleaner is None:
                self._cleaner = ThreadPoolExecutor(1, thread_name_prefix="sangraha-file-cleanup")
            self._cleaner.submit(shutil.rmtree, gone, ignore_errors=True)

    def _remove_stale_temporaries(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        with os.scandir(self._root / _TMP_DIR) as entries:
            for entry in entries:
                try:
                    if entry.name.endswith(_GONE_SUFFIX) and entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    elif entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    continue


def _fill(fd: int, data: Data, limit: int | None) -> os.stat_result:
    """Write ``data`` to the new file ``fd`` (closed after), fsync it; its final stat."""
    with open(fd, "wb") as out:
        chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if limit is not None and size > limit:
                raise InvalidPartError(f"a part may hold at most {limit} bytes")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
        return os.fstat(out.fileno())


def _part_name(part_number: int) -> str:
    return f"{part_number:05d}"


def _etag(st: os.stat_result) -> str:
    # Inode, mtime and size change whenever a put installs a new file; no need to hash.
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _info(key: str, st: os.stat_result) -> BlobInfo:
    return BlobInfo(
        key=key,
        size=st.st_size,
        etag=_etag(st),
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


def _blob_is_directory(key: str) -> InvalidNameError:
    return InvalidNameError(
        f"object key {key!r} clashes with another key: in a file store a key cannot be "
        "both a blob and a prefix of other keys followed by '/'"
    )


def _append(src: int, out: IO[bytes]) -> None:
    """Append all of the file ``src`` to ``out``, in the kernel where it can.

    Reads at explicit offsets, so another thread may read ``src`` at the same time.
    """
    out.flush()
    offset = 0
    try:
        while copied := os.copy_file_range(src, out.fileno(), CHUNK_SIZE * 8, offset):
            offset += copied
        return
    except (AttributeError, OSError):
        # No copy_file_range here (or not across these filesystems): copy in chunks.
        pass
    while chunk := os.pread(src, CHUNK_SIZE, offset):
        out.write(chunk)
        offset += len(chunk)
    out.flush()


def _show(src: int, observe: Callable[[bytes], object]) -> None:
    """Pass all of the file ``src`` to ``observe`` in chunks, reading at explicit offsets."""
    offset = 0
    while chunk := os.pread(src, CHUNK_SIZE, offset):
        observe(chunk)
        offset += len(chunk)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
