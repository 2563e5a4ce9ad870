"""The three backends a service runs on, opened together from settings."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

from ._bucket_cache import BucketCache
from ._group_commit import GroupCommit, StagedUpload, commit_staged
from ._registry import open_blob_store, open_metadata_store, open_queue
from ._settings import Settings
from .metadata import CreatesMany, MetadataStore
from .queue import Queue
from .storage import BlobStore

__all__ = ["Backends"]


@dataclass
class Backends:
    settings: Settings
    blobs: BlobStore
    metadata: MetadataStore
    queue: Queue
    _staged_commit: GroupCommit[StagedUpload] = field(init=False, repr=False, compare=False)
    bucket_cache: BucketCache = field(init=False, repr=False, compare=False)
    """What this process last read of each bucket, trusted for ``settings.key_refresh``
    seconds: uploads ask it what their bucket accepts."""

    def __post_init__(self) -> None:
        # Read at each commit, so a store swapped in later (tests do) is the one written.
        self._staged_commit = GroupCommit(lambda batch: commit_staged(self.metadata, batch))
        self.bucket_cache = BucketCache(lambda: self.metadata, refresh=self.settings.key_refresh)

    def commit_staged(self, staged: StagedUpload) -> None:
        """Make a staged upload's name and pending record durable, in one transaction with
        those of the uploads committing at the same moment through these backends; each
        call returns once its own upload is committed (or raises what its batch raised, or
        ``BucketNotFoundError`` if its bucket is gone, ``staged.make_bucket`` being None)."""
        if isinstance(self.metadata, CreatesMany):
            self._staged_commit.run(staged)
        else:
            # A store that cannot write several records at once commits each alone.
            error = commit_staged(self.metadata, [staged])[0]
            if error is not None:
                raise error

    @classmethod
    def from_settings(cls, settings: Settings, *, setup: bool = True) -> Backends:
        """Open every backend; with ``setup``, create what is missing (schema, queues).

        Should one step fail, what was opened is closed again: a caller that tries again
        until an outage ends leaks nothing.
        """
        with ExitStack() as opened:
            blobs = open_blob_store(settings.blob_url)
            opened.callback(blobs.close)
            metadata = open_metadata_store(settings.metadata_url)
            opened.callback(metadata.close)
            # The queue's own limit is the worker's: at that count the worker fails the record
            # first, so a message the queue dead-letters by itself never leaves one pending.
            queue = open_queue(
                settings.queue_url,
                prefix=settings.queue_prefix,
                delivery_limit=settings.max_deliveries,
            )
            opened.callback(queue.close)
            if setup:
                metadata.migrate()
                queue.setup()
            opened.pop_all()
        return cls(settings=settings, blobs=blobs, metadata=metadata, queue=queue)

    def close(self) -> None:
        self.queue.close()
        self.metadata.close()
        self.blobs.close()
