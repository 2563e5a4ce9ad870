"""Request bodies: what a caller may upload, whether it can be sent twice, and its type.

A body that can be read again from the start (bytes, a path, a seekable file) is safe to
retry; a one-shot iterable is not, so a failed upload of one is never repeated.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import pathlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import BinaryIO, cast

from sangraha_core import CONTENT_TYPES, Digest, detect

from ._constants import STREAM_CHUNK_SIZE

__all__ = [
    "AsyncUploadData",
    "Body",
    "BytesBody",
    "FileBody",
    "FileObjBody",
    "IterBody",
    "UploadData",
    "guess_content_type",
    "make_body",
    "sniff_content_type",
]

#: What ``put_object`` accepts: bytes, a path, an open binary file or an iterable of chunks.
UploadData = bytes | str | os.PathLike[str] | BinaryIO | Iterable[bytes]
#: The async client also takes an async iterable of chunks.
AsyncUploadData = UploadData | AsyncIterable[bytes]

_FALLBACK_TYPE = "application/octet-stream"


def sniff_content_type(head: bytes) -> str | None:
    """Name the kind from the first bytes, as the service's own detection would."""
    found = detect(head)
    if found in CONTENT_TYPES:
        return found
    # JSON has no magic number: judge by its first token.
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if (
        stripped[:1] in (b"{", b"[", b'"')
        or stripped[:4] in (b"true", b"null")
        or (stripped[:5] == b"false")
    ):
        return "application/json"
    if stripped[:1] in b"-0123456789" and stripped[:1]:
        return "application/json"
    return None


def guess_content_type(name: str | None, head: bytes) -> str:
    """From the file name when it names a kind Sangraha stores, else from magic bytes."""
    if name:
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed in CONTENT_TYPES:
            return guessed
    return sniff_content_type(head) or _FALLBACK_TYPE


class Body:
    """A request body. ``replayable`` bodies can be sent again on a retry."""

    replayable: bool = True
    length: int | None = None
    name: str | None = None

    def head(self) -> bytes:
        """The first bytes, for content sniffing; the body can still be sent whole."""
        raise NotImplementedError

    def digest(self) -> Digest | None:
        """The SHA-256 of the whole body when it can be known before sending."""
        return None

    def sync_stream(self) -> bytes | Iterator[bytes]:
        raise NotImplementedError

    def async_stream(self) -> bytes | AsyncIterator[bytes]:
        raise NotImplementedError


class BytesBody(Body):
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def head(self) -> bytes:
        return self.data[:64]

    def digest(self) -> Digest:
        return Digest.of(self.data)

    def sync_stream(self) -> bytes:
        return self.data

    def async_stream(self) -> bytes:
        return self.data


class FileBody(Body):
    """A file on disk, or a slice of it (one part of a chunked upload)."""

    def __init__(self, path: pathlib.Path, offset: int = 0, length: int | None = None) -> None:
        self.path = path
        self.offset = offset
        self.length = path.stat().st_size - offset if length is None else length
        self.name = path.name

    def head(self) -> bytes:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            return f.read(min(64, self.length or 0))

    def digest(self) -> Digest:
        h = hashlib.sha256()
        for chunk in self.sync_stream():
            h.update(chunk)
        return Digest.from_hex(h.hexdigest())

    def sync_stream(self) -> Iterator[bytes]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            left = self.length or 0
            while left > 0:
                chunk = f.read(min(STREAM_CHUNK_SIZE, left))
                if not chunk:
                    raise OSError(f"{self.path} shrank while it was being sent")
                left -= len(chunk)
                yield chunk

    async def async_stream(self) -> AsyncIterator[bytes]:
        # Each chunk is read in a thread, so a slow disk never stalls the event loop. The
        # thread opens and closes the file itself: a cancelled upload (a part is cancelled
        # when another part fails) can never leave a handle open behind it.
        offset, left = self.offset, self.length or 0
        while left > 0:
            chunk = await asyncio.to_thread(self._read, offset, min(STREAM_CHUNK_SIZE, left))
            if not chunk:
                raise OSError(f"{self.path} shrank while it was being sent")
            offset += len(chunk)
            left -= len(chunk)
            yield chunk

    def _read(self, offset: int, size: int) -> bytes:
        with self.path.open("rb") as f:
            f.seek(offset)
            return f.read(size)


class FileObjBody(Body):
    """An open binary file; replayable when it can seek back to where it started."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.replayable = _seekable(file)
        self.start = file.tell() if self.replayable else 0
        if self.replayable:
            end = file.seek(0, os.SEEK_END)
            file.seek(self.start)
            self.length = end - self.start
        raw_name = getattr(file, "name", None)
        self.name = os.path.basename(raw_name) if isinstance(raw_name, str) else None
        self._peeked = b""

    def head(self) -> bytes:
        if self.replayable:
            data = self.file.read(64)
            self.file.seek(self.start)
            return data
        # A pipe cannot seek back: keep what was read and send it first.
        self._peeked = self.file.read(64)
        return self._peeked

    def digest(self) -> Digest | None:
        if not self.replayable:
            return None
        h = hashlib.sha256()
        for chunk in self.sync_stream():
            h.update(chunk)
        return Digest.from_hex(h.hexdigest())

    def sync_stream(self) -> Iterator[bytes]:
        if self.replayable:
            self.file.seek(self.start)
        elif self._peeked:
            peeked, self._peeked = self._peeked, b""
            yield peeked
        while chunk := self.file.read(STREAM_CHUNK_SIZE):
            yield chunk

    async def async_stream(self) -> AsyncIterator[bytes]:
        it = self.sync_stream()
        while True:
            chunk = await asyncio.to_thread(next, it, b"")
            if not chunk:
                return
            yield chunk


class IterBody(Body):
    """Chunks from an iterable: sent once, never retried, digest unknown up front."""

    replayable = False

    def __init__(self, chunks: Iterable[bytes] | AsyncIterable[bytes]) -> None:
        self.chunks = chunks
        self._peeked: bytes | None = None

    def head(self) -> bytes:
        if self._peeked is not None:
            return self._peeked
        if not isinstance(self.chunks, Iterable):
            return b""
        it = iter(self.chunks)
        self._peeked = next(it, b"")
        self.chunks = it
        return self._peeked

    async def ahead(self) -> bytes:
        if self._peeked is not None:
            return self._peeked
        if isinstance(self.chunks, Iterable):
            return self.head()
        it = aiter(self.chunks)
        try:
            self._peeked = await anext(it)
        except StopAsyncIteration:
            self._peeked = b""
        self.chunks = it
        return self._peeked

    def sync_stream(self) -> Iterator[bytes]:
        if self._peeked:
            yield self._peeked
        if not isinstance(self.chunks, Iterable):
            raise TypeError("an async iterable needs the AsyncClient")
        yield from self.chunks

    async def async_stream(self) -> AsyncIterator[bytes]:
        if self._peeked:
            yield self._peeked
        if isinstance(self.chunks, Iterable):
            for chunk in self.chunks:
                yield chunk
        else:
            async for chunk in self.chunks:
                yield chunk


def _seekable(file: BinaryIO) -> bool:
    try:
        return file.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def make_body(data: AsyncUploadData) -> Body:
    """Wrap whatever the caller passed; the checks go from the most to the least specific."""
    if isinstance(data, bytes | bytearray | memoryview):
        return BytesBody(bytes(data))
    if isinstance(data, str | os.PathLike):
        return FileBody(pathlib.Path(data))
    if hasattr(data, "read"):
        return FileObjBody(data)  # type: ignore[arg-type]
    if isinstance(data, Iterable | AsyncIterable):
        return IterBody(cast("Iterable[bytes] | AsyncIterable[bytes]", data))
    raise TypeError(f"cannot upload a {type(data).__name__}")
