"""What a metadata store holds, counted: the numbers behind the store gauges of
``/metrics`` (the ``Stats`` capability)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StoreStats"]


@dataclass(frozen=True)
class StoreStats:
    """Counts of one moment of the store.

    :param ready: object versions that are ready (their content can be read).
    :param pending: versions still being processed.
    :param failed: versions whose processing failed.
    :param ready_bytes: the sizes of every ready version, added up: what the store would
        hold without deduplication.
    :param blobs: stored blobs some record references.
    :param blob_bytes: the sizes of those blobs, added up: what the store holds.
    """

    ready: int
    pending: int
    failed: int
    ready_bytes: int
    blobs: int
    blob_bytes: int

    @property
    def dedup_saved_bytes(self) -> int:
        """Bytes that deduplication saved: ready versions' sizes less the blobs' sizes.

        Never below zero, should the two sums be read a moment apart.
        """
        return max(0, self.ready_bytes - self.blob_bytes)
