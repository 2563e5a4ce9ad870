"""Backends by URL scheme, imported lazily so a missing extra costs nothing until used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, MissingExtraError

if TYPE_CHECKING:
    from .metadata import MetadataStore
    from .queue import Queue
    from .storage import BlobStore

__all__ = ["open_blob_store", "open_metadata_store", "open_queue"]

# scheme -> (dotted path of the class, the extra that brings its dependencies)
BLOB_BACKENDS: dict[str, tuple[str, str]] = {
    "file": ("sangraha_core.storage.file:FileBlobStore", ""),
    "s3": ("sangraha_core.storage.s3:S3BlobStore", "s3"),
}
METADATA_BACKENDS: dict[str, tuple[str, str]] = {
    "sqlite": ("sangraha_core.metadata.sql:SqlMetadataStore", "sql"),
    "postgresql": ("sangraha_core.metadata.sql:SqlMetadataStore", "postgres"),
    "postgres": ("sangraha_core.metadata.sql:SqlMetadataStore", "postgres"),
}
QUEUE_BACKENDS: dict[str, tuple[str, str]] = {
    "memory": ("sangraha_core.queue.memory:MemoryQueue", ""),
    "amqp": ("sangraha_core.queue.amqp:AmqpQueue", "amqp"),
    "amqps": ("sangraha_core.queue.amqp:AmqpQueue", "amqp"),
}


def _load(registry: dict[str, tuple[str, str]], url: str, what: str) -> Any:
    scheme = urlsplit(url).scheme.split("+", 1)[0]
    try:
        path, extra = registry[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in registry)
        raise ConfigurationError(
            f"unknown {what} URL scheme in {url!r}; use one of {known}"
        ) from None
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.startswith("sangraha_core"):
            raise
        raise MissingExtraError(scheme, extra or scheme) from exc
    return getattr(module, class_name)


def open_blob_store(url: str) -> BlobStore:
    store: BlobStore = _load(BLOB_BACKENDS, url, "blob store").from_url(url)
    return store


def open_metadata_store(url: str) -> MetadataStore:
    store: MetadataStore = _load(METADATA_BACKENDS, url, "metadata store").from_url(url)
    return store


def open_queue(url: str, *, prefix: str = "", delivery_limit: int | None = None) -> Queue:
    """``delivery_limit``: unsettled deliveries of one message before it is dead-lettered
    (``None``: the queue's default)."""
    cls = _load(QUEUE_BACKENDS, url, "queue")
    options = {} if delivery_limit is None else {"delivery_limit": delivery_limit}
    queue: Queue = cls.from_url(url, prefix=prefix, **options)
    return queue
