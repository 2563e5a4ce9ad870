"""A large staged object is hashed while the validator reads it: one read where the validator
reads front to back, and the digest still catches every kind of corrupt staging copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.large_objects import write_json, write_pdf
from sangraha_core import (
    CHUNK_SIZE,
    SMALL_OBJECT_SIZE,
    Backends,
    Digest,
    ObjectStatus,
    Outcome,
    ProcessObject,
    blob_key,
    process_object,
    staging_key,
)
from tests.worker._staging import FlakyBlobStore, stage

SIZE = 8 * SMALL_OBJECT_SIZE


class CountingBlobStore(FlakyBlobStore):
    """The store it wraps, counting the bytes every ``get`` hands out."""

    def __init__(self, backends: Backends) -> None:
        super().__init__(backends.blobs, failures=0)
        self.fetched = 0

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        for chunk in self.inner.get(key, start=start, end=end):
            self.fetched += len(chunk)
            yield chunk


def make(kind: str, tmp_path: Path) -> bytes:
    write = write_json if kind == "json" else write_pdf
    return write(tmp_path / kind, SIZE).read_bytes()


def run(backends: Backends, object_id: str) -> Outcome:
    return process_object(backends, ProcessObject.for_object(object_id))


def error_of(backends: Backends, object_id: str) -> str:
    record = backends.metadata.get_object(object_id)
    assert record.status is ObjectStatus.FAILED
    return record.error or ""


# Besides the one read, each jump of the parser fetches up to one chunk (1 MiB): JSON
# re-reads its head after sniffing it; pypdf visits the header, the tail, the cross-reference
# table and the few objects, wherever they lie. None of it grows with the object.
@pytest.mark.parametrize(("kind", "jumps"), [("json", 2), ("pdf", 6)])
def test_a_large_object_is_read_about_once(
    backends: Backends, tmp_path: Path, kind: str, jumps: int
) -> None:
    data = make(kind, tmp_path)
    record = stage(backends, data, f"application/{kind}")
    counting = CountingBlobStore(backends)
    backends.blobs = counting

    assert run(backends, record.id) is Outcome.DONE

    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    # Hashing, then validating, fetched the object twice; now the validator's reads feed
    # the hash, and only what it skipped (most of a PDF) is fetched again.
    assert counting.fetched <= len(data) + jumps * CHUNK_SIZE, counting.fetched - len(data)


@pytest.mark.parametrize("kind", ["json", "pdf"])
def test_a_byte_changed_where_the_validator_reads_or_skips_is_found(
    backends: Backends, tmp_path: Path, kind: str
) -> None:
    data = make(kind, tmp_path)
    # The middle of a JSON string, or of the PDF's image stream that the parser skips:
    # still a valid object of its kind, so only the digest can tell.
    middle = len(data) // 2
    changed = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]
    record = stage(backends, changed, f"application/{kind}", record_digest=Digest.of(data))

    assert run(backends, record.id) is Outcome.FAILED

    assert "corrupt" in error_of(backends, record.id)
    assert not backends.blobs.exists(blob_key(record.digest))


def test_bytes_beyond_the_recorded_size_are_found(backends: Backends, tmp_path: Path) -> None:
    data = make("json", tmp_path)
    record = stage(backends, data)
    # Trailing white space keeps it valid JSON; the validator stops at the recorded size.
    backends.blobs.put(staging_key(record.id), data + b" ")

    assert run(backends, record.id) is Outcome.FAILED

    assert "corrupt" in error_of(backends, record.id)


def test_corrupt_and_invalid_says_corrupt(backends: Backends, tmp_path: Path) -> None:
    data = make("json", tmp_path)
    broken = data[:-1] + b"!"
    record = stage(backends, broken, record_digest=Digest.of(data))

    assert run(backends, record.id) is Outcome.FAILED

    assert "corrupt" in error_of(backends, record.id)
