"""Reading blobs: the chunk stream every backend returns, and a seekable file over a blob."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidRangeError
from ._protocol import BlobStore

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["BlobReader"]

_DEFAULT_BUFFER_SIZE: Final = 1024 * 1024


class ChunkStream(Iterator[bytes]):
    """Bytes from ``read`` in pieces of at most ``chunk_size``, ``remaining`` in all.

    A class rather than a generator so that ``close`` releases the file or connection even
    when the caller never started iterating (a generator that never ran skips its
    ``finally``).
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        release: Callable[[], None],
        remaining: int | None,
        *,
        chunk_size: int = CHUNK_SIZE,
        on_error: Callable[[Exception], Exception] | None = None,
    ) -> None:
        self._read = read
        self._release: Callable[[], None] | None = release
        self._remaining = remaining
        self._chunk_size = chunk_size
        self._on_error = on_error

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> bytes:
        if self._release is None or self._remaining == 0:
            self.close()
            raise StopIteration
        want = self._chunk_size
        if self._remaining is not None:
            want = min(want, self._remaining)
        try:
            chunk = self._read(want)
        except Exception as exc:
            self.close()
            if self._on_error is None:
                raise
            raise self._on_error(exc) from exc
        if not chunk:
            self.close()
            raise StopIteration
        if self._remaining is not None:
            self._remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> ChunkStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class BlobReader(io.RawIOBase):
    """A read-only, seekable file over one blob, served by ranged ``store.get`` calls.

    For parsers (Pillow, pypdf, ijson) that want a file object. One range stream stays
    open and is continued by sequential reads; a seek elsewhere closes it and the next read
    opens a new one from the new position. A forward seek of less than ``buffer_size`` is
    served by reading on through the open stream, which is cheaper than a new request.
    At most one chunk of the stream is held in memory.

    Wrap it in ``io.BufferedReader`` when the consumer makes many tiny reads.

    ``observe`` sees the blob's bytes from offset 0 on, each byte once and in order, as the
    streams fetch them: a consumer that reads front to back (a JSON parser) shows it the
    whole blob, so it can be hashed without reading it again. Bytes the consumer skips or
    reads out of order end the run; ``observed`` says where it stopped, so that the caller
    can fetch only the rest.
    """

    def __init__(
        self,
        store: BlobStore,
        key: str,
        size: int | None = None,
        buffer_size: int = _DEFAULT_BUFFER_SIZE,
        *,
        observe: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self._size = store.head(key).size if size is None else size
        self._buffer_size = buffer_size
        self._pos = 0
        self._stream: Iterator[bytes] | None = None
        # Where the open stream will resume, and what of its last chunk is still unread.
        self._stream_pos = 0
        self._pending = memoryview(b"")
        self._observe = observe
        self._observed = 0

    @property
    def name(self) -> str:
        return self._key

    @property
    def size(self) -> int:
        return self._size

    @property
    def observed(self) -> int:
        """How many leading bytes ``observe`` has seen (also readable after ``close``)."""
        return self._observed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._pos = target
        return target

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        out = memoryview(buffer).cast("B")
        if not out.nbytes or self._pos >= self._size:
            return 0
        self._position_stream()
        if not self._pending:
            assert self._stream is not None
            chunk = next(self._stream, b"")
            if not chunk:
                # The blob shrank under us (a concurrent overwrite): report end of file.
                self._drop_stream()
                return 0
            self._pending = self._fetched(chunk)
        n = min(out.nbytes, self._pending.nbytes, self._size - self._pos)
        out[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._drop_stream()
        super().close()

    def _position_stream(self) -> None:
        """Make the open stream's next unread byte the one at ``self._pos``."""
        unread_from = self._stream_pos - self._pending.nbytes
        if self._stream is not None and unread_from <= self._pos:
            skip = self._pos - unread_from
            if skip <= self._pending.nbytes:
                self._pending = self._pending[skip:]
                return
            if skip <= self._buffer_size:
                skip -= self._pending.nbytes
                self._pending = memoryview(b"")
                for chunk in self._stream:
                    fetched = self._fetched(chunk)
                    if len(chunk) > skip:
                        self._pending = fetched[skip:]
                        return
                    skip -= len(chunk)
        self._drop_stream()
        self._stream = self._store.get(self._key, start=self._pos, end=self._size)
        self._stream_pos = self._pos

    def _fetched(self, chunk: bytes) -> memoryview:
        """Account for ``chunk``, just taken from the open stream; show ``observe`` its news."""
        view = memoryview(chunk)
        start, self._stream_pos = self._stream_pos, self._stream_pos + len(chunk)
        if self._observe is not None and start <= self._observed < self._stream_pos:
            # A copy only when a re-read overlaps what was seen, which sequential reads never do.
            self._observe(chunk if start == self._observed else chunk[self._observed - start :])
            self._observed = self._stream_pos
        return view

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._pending = memoryview(b"")
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")


def closing_chunks(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Iterate a ``get`` stream and close it whatever happens, releasing its connection."""
    try:
        yield from stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def resolve_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """The ``[start, stop)`` a ``get`` serves from a blob of ``size`` bytes.

    ``end`` past the size is clamped, as HTTP ranges are; ``start == size`` is an empty read.
    """
    if start < 0 or start > size:
        raise InvalidRangeError(
            f"range start {start} lies outside the blob of {size} bytes", size=size
        )
    if end is None or end > size:
        end = size
    if end < start:
        raise InvalidRangeError(f"range end {end} comes before its start {start}", size=size)
    return start, end
