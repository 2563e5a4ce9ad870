"""The reader every parser sees: large reads, a size, and failures kept apart.

Parsers (Pillow, pypdf, ijson) read in small pieces: a PNG chunk header is 8 bytes, a PDF
token a few. The caller's file may sit on a network blob store where each read is a
round trip, so every parser reads through one large buffer instead.

Two more duties:

* A parser that asks for "the rest of the file" (``read()`` with no size) is refused when
  the rest is larger than a bound, so no library can pull a multi-gigabyte object into
  memory behind our back (pypdf does this to rebuild a broken cross-reference table,
  Pillow to hand a WebP file to libwebp).
* An error raised by the caller's file (a blob store going away) is remembered, so that it
  is re-raised as itself and never mistaken for invalid content.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidContentError

__all__ = ["MAX_WHOLE_READ", "Source"]

#: The most a parser may read in one "read everything" call.
MAX_WHOLE_READ = 64 * 1024 * 1024


class _Raw(io.RawIOBase):
    def __init__(self, file: BinaryIO, size: int, max_whole_read: int) -> None:
        super().__init__()
        self._file = file
        self._size = size
        self._max_whole_read = max_whole_read
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._file.read(len(buffer))
        except BaseException as exc:
            self.failure = exc
            raise
        buffer[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        remaining = self._size - self.tell()
        if remaining > self._max_whole_read:
            raise InvalidContentError(
                f"the file would have to be read whole ({remaining} bytes) to be checked; "
                f"the limit is {self._max_whole_read} bytes"
            )
        return super().readall()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return self._file.seek(offset, whence)
        except BaseException as exc:
            self.failure = exc
            raise

    def tell(self) -> int:
        return self._file.tell()

    # No close(): closing this view must leave the caller's file open.


class Source(io.BufferedReader):
    """A buffered, size-aware view of the caller's seekable binary file."""

    def __init__(
        self,
        file: BinaryIO,
        *,
        buffer_size: int = CHUNK_SIZE,
        max_whole_read: int = MAX_WHOLE_READ,
    ) -> None:
        size = file.seek(0, io.SEEK_END)
        file.seek(0)
        self._raw = _Raw(file, size, max_whole_read)
        super().__init__(self._raw, buffer_size=buffer_size)
        self.size = size

    @property
    def failure(self) -> BaseException | None:
        """What the caller's file raised, if anything: a fault of the store, not the bytes."""
        return self._raw.failure

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        self.seek(offset)
        return self.read(size)
