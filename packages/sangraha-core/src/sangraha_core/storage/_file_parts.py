"""The multipart uploads of the file store: one folder each, and the join that ends one.

A part goes one of two ways:

- **in place**: a part whose size is known before its bytes arrive is written straight into
  ``slots-<size>``, a sparse file holding part *n* at ``(n - 1) * size``. When every part but
  the last has the same size (as clients send them), that file already is the object, and
  ``complete`` copies nothing but stragglers. The marker ``<n>.at`` says the bytes are
  there; it is made before the write and filled after it, so an empty marker is a write in
  progress (or cut short) and never passes for a part.
- **on the side**: any other part, and any part sent again, goes to its own file ``<n>``
  through a temporary file and a rename, so a re-send that fails midway leaves the copy
  that was there.

The etag each part answers is that of its marker or its own file; ``complete`` takes each
part from whichever of the two still has the etag its caller names.

The store offers each landed part to a :class:`~._front.FrontDigest` (see ``part_bytes``),
so that a join may carry on from the hash of the object's first parts.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._constants import MAX_PART_SIZE, MAX_PARTS
from .._digest import Digest
from .._exceptions import InvalidPartError, UploadNotFoundError
from ._file_io import copy_range, etag, fill, fill_at, fsync_dir, show_range, unlink_quietly
from ._protocol import Data, PartResult, ordered_parts

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

    from ._front import FrontDigest

__all__ = ["PartFolder"]

_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")
_KEY_FILE = "key"
_MARKER_SUFFIX = ".at"
_SLOTS_PREFIX = "slots-"
#: Parts that would end past this offset of a slots file go aside: file systems cap a
#: file's size (ext4 at 16 TiB with 4 KiB blocks), and a write past it fails midway.
_MAX_SLOTS_END = 1 << 40

Observe = Callable[[bytes], object]


@dataclass(frozen=True, slots=True)
class _Source:
    """Where one part's bytes are: ``length`` bytes of ``path`` from ``offset``; a part on
    the side names its file's etag, since a sending of the part again replaces the file."""

    path: Path
    offset: int
    length: int
    etag: str | None = None

    def show(self, observe: Callable[[bytes], object]) -> int:
        """Pass the part's bytes to ``observe``: how a ``FrontDigest`` reads it."""
        with _PartFile(self) as fd:
            return show_range(fd, self.offset, self.length, observe)

    def close(self) -> None:
        """Nothing held open between reads."""


class PartFolder:
    """One multipart upload: ``<parent>/<upload id>/``, owned by one key."""

    def __init__(self, folder: Path, tmp_dir: Path) -> None:
        self.folder = folder
        self._tmp_dir = tmp_dir

    @classmethod
    def create(cls, parent: Path, tmp_dir: Path, key: str) -> PartFolder:
        folder = parent / uuid.uuid4().hex
        folder.mkdir()
        (folder / _KEY_FILE).write_text(key, encoding="utf-8")
        return cls(folder, tmp_dir)

    @classmethod
    def find(cls, parent: Path, tmp_dir: Path, key: str, upload_id: str) -> PartFolder:
        missing = UploadNotFoundError(f"no multipart upload {upload_id!r} for {key!r}")
        if not _UPLOAD_ID_RE.fullmatch(upload_id):
            raise missing
        folder = parent / upload_id
        try:
            owner = (folder / _KEY_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise missing from None
        if owner != key:
            raise missing
        return cls(folder, tmp_dir)

    @property
    def upload_id(self) -> str:
        return self.folder.name

    # -- parts -------------------------------------------------------------------------------

    def write(self, number: int, data: Data, size: int | None) -> PartResult:
        if not 1 <= number <= MAX_PARTS:
            raise InvalidPartError(f"part numbers run from 1 to {MAX_PARTS}, got {number}")
        if size is not None and 0 < size <= MAX_PART_SIZE and number * size <= _MAX_SLOTS_END:
            placed = self._write_in_place(number, data, size)
            if placed is not None:
                return placed
        return self._write_aside(number, data, size)

    def _write_in_place(self, number: int, data: Data, size: int) -> PartResult | None:
        """Write the part into its slot, or None if this number was placed before."""
        marker = self._marker(number)
        try:
            # The marker claims the slot: only the first sending of a number writes there.
            claim = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            return None
        except FileNotFoundError:
            raise self._gone() from None
        try:
            with self._open_slots(size, shared=True) as slots:
                fill_at(slots.fd, data, (number - 1) * size, size)
                os.fdatasync(slots.fd)
            os.write(claim, str(size).encode("ascii"))
            os.fsync(claim)
            st = os.fstat(claim)
        except BaseException:
            # Nothing valid was in the slot before, so the claim can go with the bytes.
            unlink_quietly(marker)
            raise
        finally:
            os.close(claim)
        self._sync_names()
        return PartResult(part_number=number, size=size, etag=etag(st))

    def _write_aside(self, number: int, data: Data, size: int | None) -> PartResult:
        fd, name = tempfile.mkstemp(dir=self._tmp_dir)
        tmp = Path(name)
        try:
            st = fill(fd, data, MAX_PART_SIZE if size is None else size)
            if size is not None and st.st_size != size:
                raise InvalidPartError(f"the part holds {st.st_size} bytes, not {size}")
            # Replacing makes a re-sent part win whole; a concurrent abort leaves no folder.
            os.replace(tmp, self.folder / _part_name(number))
        except FileNotFoundError:
            raise self._gone() from None
        finally:
            unlink_quietly(tmp)
        self._sync_names()
        return PartResult(part_number=number, size=st.st_size, etag=etag(st))

    # -- join ----------------------------------------------------------------------------------

    def join(
        self,
        parts: list[PartResult],
        min_part_size: int,
        front: FrontDigest | None,
        install: Callable[[Path], object],
    ) -> Digest:
        """Join the parts into one fsynced file and hand it to ``install`` (which renames it
        into place); the object's digest, carrying on from ``front``."""
        ordered = ordered_parts(parts, min_part_size)
        sources = [self._source(part) for part in ordered]
        taken = front.take(ordered) if front is not None else None
        hasher, hashed = taken or (hashlib.sha256(), 0)
        size = ordered[0].size
        numbered = all(part.part_number == index for index, part in enumerate(ordered, 1))
        # Parts 1..N, all of one size but the last: the slots file is the object.
        in_slots = numbered and all(p.size == size for p in ordered[:-1])
        if (
            in_slots
            and ordered[-1].size <= size
            and self._join_in_slots(ordered, sources, size, hasher, hashed, install)
        ):
            return Digest.from_hex(hasher.hexdigest())
        joined = self._join_by_copy(sources, hasher.update, hashed)
        try:
            install(joined)
        finally:
            unlink_quietly(joined)
        return Digest.from_hex(hasher.hexdigest())

    def part_bytes(self, part: PartResult) -> _Source:
        """Where ``part`` is, to be read later (by a ``FrontDigest``)."""
        return self._source(part)

    def _join_in_slots(
        self,
        parts: list[PartResult],
        sources: list[_Source],
        size: int,
        hasher: Hash,
        hashed: int,
        install: Callable[[Path], object],
    ) -> bool:
        """Finish the object in ``slots-<size>`` itself, copying only parts not in place,
        and install that file; False if there is none. ``hasher`` has seen the object's
        first ``hashed`` bytes."""
        try:
            opened = self._open_slots(size, shared=False, create=False)
        except FileNotFoundError:
            return False
        with opened as slots:
            for part, source in zip(parts, sources, strict=True):
                offset = (part.part_number - 1) * size
                if source.path == slots.path and source.offset == offset:
                    continue
                with _PartFile(source) as src:
                    copy_range(src, source.offset, source.length, slots.fd, offset)
            total = sum(part.size for part in parts)
            os.ftruncate(slots.fd, total)
            os.fsync(slots.fd)
            show_range(slots.fd, hashed, total - hashed, hasher.update)
            # One rename makes the object appear and the parts go, and it happens under the
            # lock: a late part write then finds its slots file gone, not the object.
            install(slots.path)
        return True

    def _join_by_copy(self, sources: list[_Source], observe: Observe, observed: int) -> Path:
        """Copy the parts into one new fsynced file, showing ``observe`` the joined bytes
        past the first ``observed`` (which the front digest has seen already)."""
        fd, name = tempfile.mkstemp(dir=self._tmp_dir)
        tmp = Path(name)
        position = 0
        try:
            with ThreadPoolExecutor(1) as observer:
                for source in sources:
                    seen = min(max(observed - position, 0), source.length)
                    position += source.length
                    with _PartFile(source) as src:
                        # The kernel copies while another thread shows the same bytes (from
                        # the page cache) to ``observe``: one pass's time, not two.
                        shown = observer.submit(
                            show_range, src, source.offset + seen, source.length - seen, observe
                        )
                        copy_range(src, source.offset, source.length, fd, None)
                        shown.result()
            os.fsync(fd)
        except BaseException:
            unlink_quietly(tmp)
            raise
        finally:
            os.close(fd)
        return tmp

    def _source(self, part: PartResult) -> _Source:
        """Where ``part`` is, by the etag its caller holds for it."""
        number = part.part_number
        aside = self.folder / _part_name(number)
        try:
            st = aside.stat()
            if etag(st) == part.etag and st.st_size == part.size:
                return _Source(aside, 0, part.size, part.etag)
        except FileNotFoundError:
            pass
        marker = self._marker(number)
        try:
            st = marker.stat()
            text = marker.read_text(encoding="ascii")
        except FileNotFoundError:
            raise InvalidPartError(f"part {number} was never uploaded") from None
        if etag(st) != part.etag or not text.isdigit() or int(text) != part.size:
            raise InvalidPartError(f"part {number} does not match its etag")
        return _Source(self._slots_path(part.size), (number - 1) * part.size, part.size)

    # -- internals -----------------------------------------------------------------------------

    def _open_slots(self, size: int, *, shared: bool, create: bool = True) -> _LockedFile:
        path = self._slots_path(size)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o600)
        except FileNotFoundError:
            if create:
                raise self._gone() from None
            raise
        try:
            # Part writes share the file; a join has it alone, and renames it before letting
            # go, so a write that waited finds the name gone and does not touch the object.
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise FileNotFoundError(path)
        except FileNotFoundError:
            os.close(fd)
            if shared:
                raise self._gone() from None
            raise
        except BaseException:
            os.close(fd)
            raise
        return _LockedFile(path, fd)

    def _sync_names(self) -> None:
        try:
            fsync_dir(self.folder)
        except FileNotFoundError:
            raise self._gone() from None

    def _slots_path(self, size: int) -> Path:
        return self.folder / f"{_SLOTS_PREFIX}{size}"

    def _marker(self, number: int) -> Path:
        return self.folder / f"{_part_name(number)}{_MARKER_SUFFIX}"

    def _gone(self) -> UploadNotFoundError:
        return UploadNotFoundError(f"no multipart upload {self.upload_id!r}")


class _LockedFile:
    """An open file descriptor with a ``flock`` on it, both let go on exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> _LockedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class _PartFile:
    """A read-only file descriptor on a part's file for the length of a ``with``."""

    def __init__(self, source: _Source) -> None:
        self._source = source
        self._fd = -1

    def __enter__(self) -> int:
        path = self._source.path
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise InvalidPartError(f"a part's bytes are gone from {path.name}") from None
        if self._source.etag is not None and etag(os.fstat(self._fd)) != self._source.etag:
            os.close(self._fd)
            raise InvalidPartError(f"part file {path.name} was sent again meanwhile")
        return self._fd

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


def _part_name(part_number: int) -> str:
    return f"{part_number:05d}"
