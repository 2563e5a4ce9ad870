"""``BlobReader(observe=...)``: the bytes a reader fetches, shown once and in order, so a
consumer reading a blob can hash it on the way; and the S3 part spool staying small."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
import uuid
from collections.abc import Iterator

import pytest

from sangraha_core.storage import BlobReader, BlobStore
from sangraha_core.storage.s3 import PART_SPOOL_MEMORY, S3BlobStore

MiB = 1024 * 1024
DATA = hashlib.sha256(b"seed").digest() * (3 * MiB // 32 + 7)  # a little over 3 MiB


class Seen:
    """What ``observe`` was shown, checked to arrive as one contiguous run."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def __call__(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.size += len(chunk)


def test_a_front_to_back_read_shows_every_byte_once(blob_store: BlobStore) -> None:
    blob_store.put("seq", DATA)
    seen = Seen()
    reader = BlobReader(blob_store, "seq", observe=seen)
    with io.BufferedReader(reader, buffer_size=8192) as file:
        while file.read(1000):
            pass
    assert reader.observed == seen.size == len(DATA)
    assert seen.hash.digest() == hashlib.sha256(DATA).digest()


def read_exactly(reader: BlobReader, size: int) -> bytes:
    """``size`` bytes or up to the end: a raw reader answers one chunk at most per call."""
    out = bytearray()
    while len(out) < size and (chunk := reader.read(size - len(out))):
        out += chunk
    return bytes(out)


def test_skips_and_rereads_end_the_run_without_repeating_bytes(blob_store: BlobStore) -> None:
    blob_store.put("jumps", DATA)
    seen = Seen()
    with BlobReader(blob_store, "jumps", buffer_size=64 * 1024, observe=seen) as reader:
        assert reader.read(10) == DATA[:10]
        reader.seek(-100, io.SEEK_END)  # as a PDF parser does: the end first
        assert reader.read() == DATA[-100:]
        reader.seek(5)  # back inside what was seen: a new stream, nothing shown twice
        assert read_exactly(reader, 2 * MiB) == DATA[5 : 5 + 2 * MiB]
        reader.seek(len(DATA) - 50)
        reader.read(10)
    observed = reader.observed
    # The run reaches as far as the in-order reads fetched, never past a gap.
    assert 2 * MiB + 5 <= observed < len(DATA) - 100
    assert seen.size == observed
    assert seen.hash.digest() == hashlib.sha256(DATA[:observed]).digest()
    # The rest, fetched once more, completes the digest.
    rest = b"".join(blob_store.get("jumps", start=observed))
    seen(rest)
    assert seen.hash.digest() == hashlib.sha256(DATA).digest()


def test_a_small_forward_skip_through_the_open_stream_is_shown(blob_store: BlobStore) -> None:
    blob_store.put("skip", DATA)
    seen = Seen()
    with BlobReader(blob_store, "skip", buffer_size=4 * MiB, observe=seen) as reader:
        reader.read(10)
        reader.seek(2 * MiB)  # read through the open stream, not a new request
        reader.read(10)
    assert seen.size == reader.observed >= 2 * MiB + 10
    assert seen.hash.digest() == hashlib.sha256(DATA[: seen.size]).digest()


def _part(size: int) -> Iterator[bytes]:
    block = b"p" * (256 * 1024)
    for _ in range(size // len(block)):
        yield block


@pytest.mark.s3
def test_parallel_parts_are_spooled_to_disk_not_held(s3_endpoint: str, s3_env: None) -> None:
    store = S3BlobStore(f"spool-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint)
    part_size, parallel = 8 * MiB, 4
    try:
        upload_id = store.create_multipart("parts")
        tracemalloc.start()
        try:
            threads = [
                threading.Thread(
                    target=store.upload_part, args=("parts", upload_id, n, _part(part_size))
                )
                for n in range(1, parallel + 1)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        store.abort_multipart("parts", upload_id)
    finally:
        store.close()
    # Held in memory, 4 parts would be 32 MiB; spooled, each holds at most its buffer.
    assert peak < parallel * (PART_SPOOL_MEMORY + 2 * MiB), f"peaked at {peak / MiB:.1f} MiB"
