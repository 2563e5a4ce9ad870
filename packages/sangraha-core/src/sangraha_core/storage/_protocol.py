"""The blob store contract: flat keys to immutable byte strings, streamed both ways."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from .._digest import Digest
from .._exceptions import InvalidPartError

__all__ = [
    "BlobInfo",
    "BlobStore",
    "Data",
    "DeletesMany",
    "DigestingJoin",
    "PartResult",
    "PutMode",
    "PutResult",
    "SizedParts",
    "StagingWrites",
    "ordered_parts",
]

#: What ``put`` and ``upload_part`` take: the whole value, or an iterator of chunks that is
#: consumed once, in order (the caller never holds more than one chunk). An iterator may
#: raise part-way, or at its end (a ``DigestedStream`` whose bytes are not what the client
#: declared): the write is then abandoned and keeps nothing. A ``DigestedStream`` also
#: knows its digest once read to its end, so a store need not hash it again.
Data = bytes | Iterable[bytes]
PutMode = Literal["overwrite", "create"]


@dataclass(frozen=True, slots=True)
class PutResult:
    key: str
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class PartResult:
    part_number: int
    size: int
    etag: str
    digest: Digest | None = None
    """The part's SHA-256 where it is known: S3 checks each part against it on arrival,
    and again when the parts are joined."""


def ordered_parts(parts: Iterable[PartResult], min_part_size: int = 0) -> list[PartResult]:
    """The parts a ``complete_multipart`` names, by part number, checked as every store
    checks them: at least one, none listed twice, and each but the last at least
    ``min_part_size`` bytes (S3 checks that last rule itself)."""
    ordered = sorted(parts, key=lambda part: part.part_number)
    if not ordered:
        raise InvalidPartError("a multipart upload needs at least one part")
    for index, part in enumerate(ordered):
        if index and part.part_number == ordered[index - 1].part_number:
            raise InvalidPartError(f"part {part.part_number} is listed twice")
        if index < len(ordered) - 1 and part.size < min_part_size:
            raise InvalidPartError(
                f"part {part.part_number} holds {part.size} bytes; every part but the "
                f"last must hold at least {min_part_size}"
            )
    return ordered


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime


@runtime_checkable
class BlobStore(Protocol):
    """Keys are ``/``-separated relative paths; values are immutable once written.

    Guarantees every implementation keeps (the conformance suite checks each one):

    - ``put`` is atomic: a reader sees the old value, no value, or the whole new value, never
      part of it. With ``mode="create"`` it raises ``BlobExistsError`` if the key exists.
    - Streams are consumed and produced in bounded chunks: memory never grows with size.
    - ``get`` of a missing key raises ``BlobNotFoundError`` (a ``FileNotFoundError``);
      ``delete`` of a missing key is not an error.
    - Unreachable backends raise ``BlobStoreUnavailableError`` after bounded retries.
    - Multipart parts (numbered from 1) may arrive in any order and be re-sent; every part
      but the last must be at least ``MIN_PART_SIZE``. ``complete_multipart`` makes the
      object appear atomically.
    """

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult: ...

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes ``start`` up to, not including, ``end`` (``None``: to the end).

        The key's existence is checked before the iterator is returned; close the
        iterator (or exhaust it) to release the connection.
        """
        ...

    def head(self, key: str) -> BlobInfo: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def copy(self, source: str, destination: str) -> None:
        """Copy inside the store, without the bytes passing through this process."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose key starts with ``prefix``, in key order."""
        ...

    def create_multipart(self, key: str) -> str: ...

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult: ...

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> PutResult: ...

    def abort_multipart(self, key: str, upload_id: str) -> None: ...

    def check(self) -> None:
        """Raise ``BlobStoreUnavailableError`` if the store cannot be reached (for /readyz)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StagingWrites(Protocol):
    """Optional extras of a blob store, for copies nothing reads until they are published
    elsewhere (an upload's staging copy, named by its record). Stores without them get
    plain ``put`` and ``delete``.
    """

    def put_unpublished(self, key: str, data: Data) -> PutResult:
        """Write a new ``key`` whose name need not be durable until ``sync_dirs``, so that
        many such writes share one flush; the bytes themselves are durable on return."""
        ...

    def sync_dirs(self, keys: Iterable[str]) -> None:
        """Make the names of ``keys`` durable."""
        ...

    def discard(self, key: str) -> None:
        """Delete ``key`` without waiting for the deletion to reach the disk."""
        ...


@runtime_checkable
class DeletesMany(Protocol):
    """Optional extra of a blob store that deletes many keys in one request (S3's
    ``DeleteObjects``), where ``delete`` would make one a key. Stores without it get
    ``delete`` for each."""

    def delete_many(self, keys: Sequence[str]) -> None:
        """Delete every one of ``keys``, a key already gone being no error; raise if any of
        them could not be deleted."""
        ...


@runtime_checkable
class DigestingJoin(Protocol):
    """Optional extra of a blob store that joins multipart parts itself: it can give the
    joined object's SHA-256 without the caller reading the object again (hashed while the
    parts arrived, or while it joins them). Stores without it get ``complete_multipart``
    and a read back.
    """

    def complete_multipart_digest(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> tuple[PutResult, Digest]:
        """Do what ``complete_multipart`` does; also the digest of the joined object."""
        ...


@runtime_checkable
class SizedParts(Protocol):
    """Optional extra of a blob store that joins multipart parts itself: told a part's size
    before its bytes, it can write them straight to where they sit in the object, so that
    ``complete_multipart`` has little or nothing left to copy. Stores without it get
    ``upload_part``.
    """

    def upload_part_sized(
        self, key: str, upload_id: str, part_number: int, data: Data, size: int
    ) -> PartResult:
        """Do what ``upload_part`` does for a part of exactly ``size`` bytes (refused as an
        ``InvalidPartError`` if ``data`` holds more or fewer)."""
        ...
