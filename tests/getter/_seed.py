"""Objects put straight into the stores, in each state, so reads are tested without the
receiver or the worker."""

from __future__ import annotations

from collections.abc import Iterable

from sangraha_core import (
    CONTENT_TYPES,
    Backends,
    BucketKinds,
    Digest,
    Hasher,
    ObjectRecord,
    ObjectStatus,
    blob_key,
    new_id,
    utcnow,
)

BUCKET = "photos"


class Seed:
    """Objects in each state, made directly through the stores."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def pending(
        self,
        key: str,
        data: bytes = b"{}",
        content_type: str = "application/json",
        *,
        bucket: str = BUCKET,
        metadata: dict[str, str] | None = None,
    ) -> ObjectRecord:
        now = utcnow()
        record = ObjectRecord(
            id=new_id(),
            bucket=bucket,
            key=key,
            status=ObjectStatus.PENDING,
            kind=CONTENT_TYPES[content_type],
            content_type=content_type,
            size=len(data),
            digest=Digest.of(data),
            created_at=now,
            updated_at=now,
            metadata=metadata or {},
        )
        self._bucket(record.bucket)
        self.backends.metadata.create_object(record)
        return record

    def _bucket(self, name: str) -> None:
        # Records written straight to the store: their bucket is made as Ingest makes it.
        self.backends.metadata.create_bucket(name, BucketKinds.VALIDATED, exist_ok=True)

    def ready(
        self,
        key: str,
        data: bytes = b"{}",
        content_type: str = "application/json",
        *,
        bucket: str = BUCKET,
        metadata: dict[str, str] | None = None,
    ) -> ObjectRecord:
        record = self.pending(key, data, content_type, bucket=bucket, metadata=metadata)
        self.backends.blobs.put(blob_key(record.digest), data)
        return self._finalize(record, record.digest, len(data))

    def ready_streamed(
        self, key: str, chunks: Iterable[bytes], content_type: str, *, bucket: str = BUCKET
    ) -> ObjectRecord:
        """A large object, written chunk by chunk so the test itself stays small."""
        parts = list(chunks)
        hasher = Hasher()
        for part in parts:
            hasher.update(part)
        digest = hasher.digest()
        now = utcnow()
        record = ObjectRecord(
            id=new_id(),
            bucket=bucket,
            key=key,
            status=ObjectStatus.PENDING,
            kind=CONTENT_TYPES[content_type],
            content_type=content_type,
            size=hasher.size,
            digest=digest,
            created_at=now,
            updated_at=now,
        )
        self._bucket(record.bucket)
        self.backends.metadata.create_object(record)
        self.backends.blobs.put(blob_key(digest), iter(parts))
        return self._finalize(record, digest, hasher.size)

    def failed(self, key: str, reason: str, *, bucket: str = BUCKET) -> ObjectRecord:
        record = self.pending(key, b"not json", bucket=bucket)
        failed = self.backends.metadata.mark_failed(record.id, reason)
        assert failed is not None
        return failed

    def _finalize(self, record: ObjectRecord, digest: Digest, size: int) -> ObjectRecord:
        result = self.backends.metadata.finalize_ready(
            record.id, digest=digest, size=size, extracted={}
        )
        assert result.record is not None
        assert result.record.status is ObjectStatus.READY
        return result.record


#: A 1x1 PNG.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f00f0004850180848a8c21"
    "0000000049454e44ae426082"
)
