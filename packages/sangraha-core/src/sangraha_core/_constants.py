"""Defaults shared by every Sangraha package: one place to look them up or change them."""

from __future__ import annotations

__all__ = [
    "BLOB_PREFIX",
    "CHUNK_SIZE",
    "DEAD_LETTER_QUEUE",
    "DEFAULT_DATA_DIR",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_META_BYTES",
    "DEFAULT_MAX_META_ENTRIES",
    "DEFAULT_MAX_OBJECT_SIZE",
    "DEFAULT_PENDING_TIMEOUT",
    "EXCHANGE",
    "MAX_BUCKET_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "PROCESS_QUEUE",
    "RETRY_AFTER_SECONDS",
    "STAGING_PREFIX",
    "UPLOAD_SESSION_TTL",
]

#: Streams move in pieces of this size: memory stays flat whatever the object size.
CHUNK_SIZE = 1024 * 1024

#: Where content-addressed bytes live, and where uploads wait for the worker.
BLOB_PREFIX = "blobs/sha256"
STAGING_PREFIX = "staging"

DEFAULT_DATA_DIR = "./sangraha-data"
DEFAULT_MAX_OBJECT_SIZE = 5 * 1024**3
DEFAULT_MAX_META_ENTRIES = 32
DEFAULT_MAX_META_BYTES = 8 * 1024

MAX_BUCKET_LENGTH = 63
MAX_KEY_LENGTH = 1024

#: S3 multipart bounds; every blob store honours them so a session works on all of them.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
UPLOAD_SESSION_TTL = 24 * 3600.0

#: Broker topology (names get a per-deployment prefix from settings).
EXCHANGE = "sangraha"
PROCESS_QUEUE = "sangraha.process"
DEAD_LETTER_QUEUE = "sangraha.process.dead"

DEFAULT_MAX_ATTEMPTS = 5
#: A record still pending after this many seconds is published again by the reconciler.
DEFAULT_PENDING_TIMEOUT = 300.0
#: What a 503 or a pending-object 409 tells the client to wait.
RETRY_AFTER_SECONDS = 2
