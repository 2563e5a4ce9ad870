"""Put uploads where the receiver would, and build valid objects of each kind."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterator
from typing import Any

from sangraha_core import (
    CONTENT_TYPES,
    Backends,
    BlobStoreUnavailableError,
    Digest,
    ObjectRecord,
    ObjectStatus,
    ProcessObject,
    blob_key,
    new_id,
    staging_key,
    utcnow,
)
from sangraha_core.storage import BlobInfo, BlobStore, Data, PartResult, PutMode, PutResult

JSON_BODY = b'{"name": "sangraha", "tags": ["a", "b"], "n": 3}'


def stage(
    backends: Backends,
    data: bytes,
    content_type: str = "application/json",
    *,
    bucket: str = "bucket",
    key: str | None = None,
    publish: bool = True,
    record_digest: Digest | None = None,
) -> ObjectRecord:
    """Do what the receiver does: staging blob, pending record, then the job.

    ``record_digest`` records another digest than the bytes' own (a corrupt staging copy).
    """
    object_id = new_id()
    backends.blobs.put(staging_key(object_id), data)
    now = utcnow()
    record = ObjectRecord(
        id=object_id,
        bucket=bucket,
        key=key if key is not None else object_id,
        status=ObjectStatus.PENDING,
        kind=CONTENT_TYPES[content_type],
        content_type=content_type,
        size=len(data),
        digest=record_digest or Digest.of(data),
        created_at=now,
        updated_at=now,
        metadata={"origin": "test"},
    )
    backends.metadata.create_object(record)
    if publish:
        backends.queue.publish(ProcessObject.for_object(object_id))
    return record


def png(width: int = 3, height: int = 2, color: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def pdf(pages: int = 2, title: str = "A title", author: str = "An author") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=72, height=72)
    writer.add_metadata({"/Title": title, "/Author": author})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def staged(backends: Backends, object_id: str) -> bool:
    return backends.blobs.exists(staging_key(object_id))


def stored(backends: Backends, digest: Digest) -> bytes:
    return b"".join(backends.blobs.get(blob_key(digest)))


class FlakyBlobStore:
    """A blob store whose reads fail ``failures`` times (``failures < 0``: always) after the
    first ``healthy`` ones; otherwise the one it wraps."""

    def __init__(self, inner: BlobStore, failures: int, *, healthy: int = 0) -> None:
        self.inner = inner
        self.failures = failures
        self.healthy = healthy
        self.calls = 0

    def _trip(self) -> None:
        self.calls += 1
        n = self.calls - self.healthy
        if n > 0 and (self.failures < 0 or n <= self.failures):
            raise BlobStoreUnavailableError(f"simulated outage #{self.calls}")

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self._trip()
        return self.inner.get(key, start=start, end=end)

    def put(self, key: str, data: Data, *, mode: PutMode = "overwrite") -> PutResult:
        return self.inner.put(key, data, mode=mode)

    def head(self, key: str) -> BlobInfo:
        return self.inner.head(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def copy(self, source: str, destination: str) -> None:
        self.inner.copy(source, destination)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def create_multipart(self, key: str) -> str:
        return self.inner.create_multipart(key)

    def upload_part(self, key: str, upload_id: str, part_number: int, data: Data) -> PartResult:
        return self.inner.upload_part(key, upload_id, part_number, data)

    def complete_multipart(
        self, key: str, upload_id: str, parts: builtins.list[PartResult]
    ) -> PutResult:
        return self.inner.complete_multipart(key, upload_id, parts)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self.inner.abort_multipart(key, upload_id)

    def check(self) -> None:
        self.inner.check()

    def close(self) -> None:
        self.inner.close()


def refcounts_match(backends: Backends, records: list[ObjectRecord]) -> dict[str, Any]:
    """Mismatches between each digest's reference count and its records (empty: all exact)."""
    expected: dict[Digest, int] = {}
    for record in records:
        expected[record.digest] = expected.get(record.digest, 0) + 1
    wrong: dict[str, Any] = {}
    for digest, count in expected.items():
        actual = backends.metadata.blob_refcount(digest)
        if actual != count:
            wrong[digest] = (count, actual)
    return wrong
