"""Delete what nothing refers to: unreferenced content blobs and orphaned staging copies."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from sangraha_core import (
    STAGING_PREFIX,
    Backends,
    Digest,
    FailureKind,
    ObjectNotFoundError,
    ObjectStatus,
    UploadNotFoundError,
    Uploads,
    UploadStatus,
    blob_key,
    utcnow,
)

from . import metrics

__all__ = ["Collector"]

logger = logging.getLogger("sangraha_worker.collector")

_BATCH = 100


class Collector:
    """Garbage collection for the blob store.

    :param backends: the stores to clean.
    :param staging_grace: seconds a staging blob is left alone, whatever its record says:
        the receiver writes the bytes before the record, so a young staging blob without a
        record may simply be an upload in flight.
    """

    def __init__(self, backends: Backends, *, staging_grace: float) -> None:
        self.backends = backends
        self.staging_grace = staging_grace

    def run_once(self) -> int:
        """One full pass; return how many blobs were deleted."""
        self.expire_uploads()
        return self.collect_blobs() + self.sweep_staging()

    def expire_uploads(self) -> int:
        """Abort upload sessions past their expiry, so their parts stop taking space."""
        expired = Uploads(self.backends).expire(limit=_BATCH)
        if expired:
            logger.info("expired %d upload session(s)", expired)
        return expired

    def collect_blobs(self) -> int:
        """Delete content blobs with no reference, through the metadata store's locking
        protocol, which keeps a concurrent ``finalize_ready`` of the same bytes safe."""
        blobs = self.backends.blobs

        def delete(digest: Digest) -> None:
            blobs.delete(blob_key(digest))

        total = 0
        while True:
            n = self.backends.metadata.collect_garbage(delete, limit=_BATCH)
            total += n
            metrics.BLOBS_COLLECTED.inc(n)
            if n < _BATCH:
                break
        if total:
            logger.info("collected %d unreferenced blob(s)", total)
        return total

    def sweep_staging(self) -> int:
        """Delete staging blobs older than the grace period that no pending record, record
        failed for a retriable reason (a replay needs its bytes) or open upload session
        needs: leftovers of crashes between two steps of an upload."""
        blobs = self.backends.blobs
        prefix = STAGING_PREFIX + "/"
        cutoff = utcnow() - timedelta(seconds=self.staging_grace)
        swept = 0
        for info in list(blobs.list(prefix)):
            modified = info.last_modified
            if modified.tzinfo is None:  # a store that reports naive times means UTC
                modified = modified.replace(tzinfo=UTC)
            if modified > cutoff:
                continue
            name = info.key[len(prefix) :].split("/", 1)[0]
            if self._still_needed(name):
                continue
            blobs.delete(info.key)
            swept += 1
            metrics.STAGING_SWEPT.inc()
        if swept:
            logger.info("swept %d orphaned staging blob(s)", swept)
        return swept

    def _still_needed(self, name: str) -> bool:
        metadata = self.backends.metadata
        try:
            record = metadata.get_object(name)
        except ObjectNotFoundError:
            pass
        else:
            return record.status is ObjectStatus.PENDING or (
                record.status is ObjectStatus.FAILED
                and record.failure_kind is FailureKind.RETRIABLE
            )
        try:
            # A session being completed is joining its parts into this very blob.
            return metadata.get_upload(name).status in (
                UploadStatus.OPEN,
                UploadStatus.COMPLETING,
            )
        except UploadNotFoundError:
            return False
