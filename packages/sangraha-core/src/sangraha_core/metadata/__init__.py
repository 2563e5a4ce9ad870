"""Metadata stores: the protocol (one per aggregate, and their union), the optional
capabilities, and the SQL backend for SQLite and PostgreSQL."""

from ._protocol import (
    BlobReferences,
    Buckets,
    CreatesMany,
    FinalizeResult,
    IdempotencyKeys,
    MetadataStore,
    ObjectIndex,
    ReadyObject,
    Stats,
    UploadSessions,
    WatchesKeys,
)
from ._stats import StoreStats

__all__ = [
    "BlobReferences",
    "Buckets",
    "CreatesMany",
    "FinalizeResult",
    "IdempotencyKeys",
    "MetadataStore",
    "ObjectIndex",
    "ReadyObject",
    "Stats",
    "StoreStats",
    "UploadSessions",
    "WatchesKeys",
]
