"""The three backends a service runs on, opened together from settings."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from ._registry import open_blob_store, open_metadata_store, open_queue
from ._settings import Settings
from .metadata import MetadataStore
from .queue import Queue
from .storage import BlobStore

__all__ = ["Backends"]


@dataclass
class Backends:
    settings: Settings
    blobs: BlobStore
    metadata: MetadataStore
    queue: Queue

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
