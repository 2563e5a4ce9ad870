"""What the blob store suites share: reading a blob whole, cutting bytes into chunks."""

from __future__ import annotations

from collections.abc import Iterator

from sangraha_core.storage import BlobStore

__all__ = ["MiB", "chunks", "part_data", "read"]

MiB = 1024 * 1024


def read(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    """The bytes of ``key`` from ``start`` up to ``end``, joined."""
    return b"".join(store.get(key, start=start, end=end))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` as an iterator of ``size``-byte pieces, as a streamed upload arrives."""
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def part_data(n: int, size: int) -> bytes:
    """``size`` bytes of the value ``n``: each part tells from its bytes where it belongs."""
    return bytes([n]) * size
