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
    UploadSessions,
    WatchesKeys,
)

__all__ = [
    "BlobReferences",
    "Buckets",
    "CreatesMany",
    "FinalizeResult",
    "IdempotencyKeys",
    "MetadataStore",
    "ObjectIndex",
    "UploadSessions",
    "WatchesKeys",
]
