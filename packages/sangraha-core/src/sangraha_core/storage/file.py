"""A blob store in a local directory: one file per blob, made visible by an atomic rename."""

from __future__ import annotations

import builtins
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Self
from urllib.parse import unquote, urlsplit

from .._constants import MIN_PART_SIZE
from .._digest import Digest
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
from ._file_io import copy_range, etag, fill, fsync_dir, unlink_quietly
from ._file_parts import PartFolder
from ._front import Fronts
from ._protocol import BlobInfo, Data, PartResult, PutMode, PutResult
from ._reader import ChunkStream, resolve_range

__all__ = ["FileBlobStore"]

# Work in progress lives under the root, so a rename into place never crosses filesystems,
# and under names no key may take, so ``list`` never shows it.
_TMP_DIR = ".tmp"
_MULTIPART_DIR = ".multipart"
_RESERVED = frozenset({_TMP_DIR, _MULTIPART_DIR})
#: Temporary files older than this are leftovers of a crash, removed when a store opens.
_STALE_TMP_SECONDS = 24 * 3600.0
#: Uploads whose front is being hashed ahead of their ``complete``, at most, per store.
_MAX_FRONTS = 256
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
        self._tmp_dir = self._root / _TMP_DIR
        self._multipart_dir = self._root / _MULTIPART_DIR
        # Held parts cost no disk here: they are read where they already are.
        self._fronts = Fronts(limit=_MAX_FRONTS, max_held=sys.maxsize)
        self._worker: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        try:
            self._tmp_dir.mkdir(parents=True, exist_ok=True)
            self._multipart_dir.mkdir(exist_ok=True)
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
            unlink_quietly(tmp)
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
            fsync_dir(folder)

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
        fsync_dir(path.parent)
        self._prune(path.parent)

    def copy(self, source: str, destination: str) -> None:
        dest = self._path(destination)
        if self._link_copy(source, dest, destination):
            return
        fd, name = tempfile.mkstemp(dir=self._tmp_dir)
        tmp = Path(name)
        try:
            with self._open(source) as src, open(fd, "wb") as out:
                copy_range(src.fileno(), 0, os.fstat(src.fileno()).st_size, out.fileno(), None)
                os.fsync(out.fileno())
            self._install(tmp, dest, destination, create=False)
        finally:
            unlink_quietly(tmp)

    def _link_copy(self, source: str, dest: Path, destination: str) -> bool:
        """Copy by a second hard link to the source's file; False where links cannot be made.

        Safe because no file here is ever written in place (every put writes a new file and
        renames it), and cheap: no byte is copied or fsynced again, only the directory.
        """
        tmp = self._tmp_dir / uuid.uuid4().hex
        try:
            os.link(self._path(source), tmp)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFoundError(f"no blob under {source!r}") from None
        except OSError:
            return False
        try:
            self._install(tmp, dest, destination, create=False)
        finally:
            unlink_quietly(tmp)
        return True

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        yield from self._walk(self._root, "", prefix)

    def create_multipart(self, key: str) -> str:
        self._path(key)
        return PartFolder.create(self._multipart_dir, self._tmp_dir, key).upload_id

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        return self._write_part(key, upload_id, part_number, data, None)

    def upload_part_sized(
        self, key: str, upload_id: str, part_number: int, data: Data, size: int
    ) -> PartResult:
        return self._write_part(key, upload_id, part_number, data, size)

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> PutResult:
        return self.complete_multipart_digest(key, upload_id, parts)[0]

    def complete_multipart_digest(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> tuple[PutResult, Digest]:
        path = self._path(key)
        upload = self._parts(key, upload_id)
        front = self._fronts.pop(upload_id)
        digest = upload.join(
            parts,
            self._min_part_size,
            front,
            lambda joined: self._install(joined, path, key, create=False),
        )
        st = path.stat()
        self._remove_folder(upload.folder)
        return PutResult(key=key, size=st.st_size, etag=etag(st)), digest

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._fronts.discard(upload_id)
        try:
            folder = self._parts(key, upload_id).folder
        except UploadNotFoundError:
            return
        self._remove_folder(folder)

    def check(self) -> None:
        if not self._tmp_dir.is_dir() or not os.access(self._root, os.W_OK):
            raise BlobStoreUnavailableError(f"the blob directory {self._root} is not writable")

    def close(self) -> None:
        """Finish the background work: hashing parts, deleting finished uploads' folders."""
        self._fronts.close()
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)

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

    def _parts(self, key: str, upload_id: str) -> PartFolder:
        return PartFolder.find(self._multipart_dir, self._tmp_dir, key, upload_id)

    def _write_part(
        self, key: str, upload_id: str, part_number: int, data: Data, size: int | None
    ) -> PartResult:
        upload = self._parts(key, upload_id)
        result = upload.write(part_number, data, size)
        try:
            where = upload.part_bytes(result)
        except InvalidPartError:
            return result  # sent again meanwhile: that sending offers its own bytes
        front = self._fronts.of(upload_id)
        # The part is read again for the object's digest in the background, from the page
        # cache, while later parts still arrive.
        self._background().submit(front.offer, part_number, result.etag, result.size, where)
        return result

    def _open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFoundError(f"no blob under {key!r}") from None

    def _write_temporary(self, data: Data, *, limit: int | None) -> tuple[Path, int, str]:
        """Write ``data`` to a new fsynced file under ``.tmp/``: its path, size and etag."""
        fd, name = tempfile.mkstemp(dir=self._tmp_dir)
        tmp = Path(name)
        try:
            st = fill(fd, data, limit)
        except BaseException:
            unlink_quietly(tmp)
            raise
        return tmp, st.st_size, etag(st)

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
            st = fill(fd, data, None)
        except BaseException:
            unlink_quietly(path)
            raise
        return st.st_size, etag(st)

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
            fsync_dir(path.parent)
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
            fsync_dir(folder.parent)

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

    def _remove_folder(self, folder: Path) -> None:
        """Delete a multipart upload's folder without making the caller wait for it.

        Freeing gigabytes of parts takes the file system a while; the rename makes the
        upload gone at once, and a folder a crash leaves behind goes when a store next opens.
        """
        gone = self._tmp_dir / f"{uuid.uuid4().hex}{_GONE_SUFFIX}"
        try:
            os.rename(folder, gone)
        except FileNotFoundError:
            return
        self._background().submit(shutil.rmtree, gone, ignore_errors=True)

    def _background(self) -> ThreadPoolExecutor:
        """The one thread this store runs work on that nobody waits for."""
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="sangraha-file-store")
            return self._worker

    def _remove_stale_temporaries(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        with os.scandir(self._tmp_dir) as entries:
            for entry in entries:
                try:
                    if entry.name.endswith(_GONE_SUFFIX) and entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    elif entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    continue


def _info(key: str, st: os.stat_result) -> BlobInfo:
    return BlobInfo(
        key=key,
        size=st.st_size,
        etag=etag(st),
        last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
    )


def _blob_is_directory(key: str) -> InvalidNameError:
    return InvalidNameError(
        f"object key {key!r} clashes with another key: in a file store a key cannot be "
        "both a blob and a prefix of other keys followed by '/'"
    )
