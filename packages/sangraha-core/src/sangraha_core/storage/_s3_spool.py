"""Bodies on their way to S3: spooled, hashed once as they are spooled, sent from the start.

S3 needs a body's length, and its checksum or Content-MD5, in the headers before the
first byte; a stream's bytes are therefore written to a spool (memory up to
``PART_SPOOL_MEMORY``, a temporary file beyond) and hashed on the way, so that sending
them costs no second pass. A retried request sends the spool again from its start.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .._constants import CHUNK_SIZE
from .._digest import Digest, Hasher
from ._protocol import PartResult

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

__all__ = [
    "PART_SPOOL_MEMORY",
    "Piece",
    "SpoolBytes",
    "cut_pieces",
    "listed",
    "md5_of",
    "new_spool",
    "rewound",
    "spool_all",
    "spool_stream",
]

#: A part (of a streamed put, or sent through ``upload_part``) is spooled to a temporary
#: file past this size: the receiver takes several uploads and parts at once, and each
#: part held in memory would cost its size per thread (freed memory stays with the thread's
#: malloc arena, so the process keeps the high-water mark of all of them).
PART_SPOOL_MEMORY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Piece:
    """A body to send, whole or spooled: its size, SHA-256 and (where the server checks
    one) base64 Content-MD5."""

    body: bytes | IO[bytes]
    size: int
    digest: Digest
    md5: str | None

    @classmethod
    def of(cls, data: bytes, *, md5: bool) -> Piece:
        return cls(data, len(data), Digest.of(data), md5_of(data) if md5 else None)

    def close(self) -> None:
        if not isinstance(self.body, bytes):
            self.body.close()


def new_spool() -> IO[bytes]:
    # Not a ``with``: a spool outlives its maker, until its body has been sent.
    return tempfile.SpooledTemporaryFile(max_size=PART_SPOOL_MEMORY)


def md5_of(data: bytes) -> str:
    """The base64 MD5 that ``Content-MD5`` carries."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def cut_pieces(
    stream: Iterator[bytes], part_size: int, *, md5: bool
) -> Generator[Piece, None, None]:
    """Regroup ``stream`` into spools of at least ``part_size`` bytes (the last may be
    less); each is the caller's to close. ``stream`` is read only as far as the pieces
    taken, so a caller may go on reading it itself.

    A spool rather than joined bytes: botocore streams it to the socket, and beyond
    ``PART_SPOOL_MEMORY`` it lives on disk, so a streamed put holds about that much per
    part in flight.
    """
    while True:
        spool = new_spool()
        hasher = Hasher()
        md5_hasher = hashlib.md5() if md5 else None
        try:
            for chunk in stream:
                spool.write(chunk)
                hasher.update(chunk)
                if md5_hasher is not None:
                    md5_hasher.update(chunk)
                if spool.tell() >= part_size:
                    break
        except BaseException:
            spool.close()
            raise
        if not spool.tell():
            spool.close()
            return
        yield Piece(spool, spool.tell(), hasher.digest(), _b64(md5_hasher))


def spool_all(
    spool: IO[bytes], rest: Iterable[bytes], *, md5: bool, limit: int, too_large: Exception
) -> Piece:
    """``spool`` (holding bytes already) with ``rest`` written after them, the whole hashed:
    one body. Raises ``too_large`` once it would hold more than ``limit`` bytes."""
    hasher = Hasher()
    md5_hasher = hashlib.md5() if md5 else None

    def note(chunk: bytes) -> None:
        hasher.update(chunk)
        if md5_hasher is not None:
            md5_hasher.update(chunk)

    spool.seek(0)
    while chunk := spool.read(CHUNK_SIZE):
        note(chunk)
    for chunk in rest:
        if spool.tell() + len(chunk) > limit:
            raise too_large
        spool.write(chunk)
        note(chunk)
    return Piece(spool, spool.tell(), hasher.digest(), _b64(md5_hasher))


def spool_stream(
    stream: Iterable[bytes],
    spool: IO[bytes],
    *,
    md5: bool,
    limit: int,
    too_large: Callable[[], Exception],
) -> tuple[int, str | None]:
    """Write ``stream`` to ``spool``: its size and (if ``md5``) its Content-MD5. Raises
    ``too_large()`` past ``limit`` bytes."""
    size = 0
    md5_hasher = hashlib.md5() if md5 else None
    for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise too_large()
        spool.write(chunk)
        if md5_hasher is not None:
            md5_hasher.update(chunk)
    return size, _b64(md5_hasher)


class SpoolBytes:
    """A sent part's spool, kept for the upload's front digest."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def show(self, observe: Callable[[bytes], object]) -> int:
        self._spool.seek(0)
        shown = 0
        while chunk := self._spool.read(CHUNK_SIZE):
            observe(chunk)
            shown += len(chunk)
        return shown

    def close(self) -> None:
        self._spool.close()


def listed(part: PartResult, *, checksum: bool) -> dict[str, Any]:
    """A part as ``CompleteMultipartUpload`` lists it."""
    entry: dict[str, Any] = {"PartNumber": part.part_number, "ETag": f'"{part.etag}"'}
    if checksum and part.digest is not None:
        entry["ChecksumSHA256"] = part.digest.to_base64()
    return entry


def rewound(body: bytes | IO[bytes]) -> bytes | IO[bytes]:
    """``body`` ready to be sent from its start, also on a retry of the same request."""
    if not isinstance(body, bytes):
        body.seek(0)
    return body


def _b64(hasher: Hash | None) -> str | None:
    return None if hasher is None else base64.b64encode(hasher.digest()).decode()
