"""Defaults shared by every Sangraha package: one place to look them up or change them."""

from __future__ import annotations

__all__ = [
    "BLOB_PREFIX",
    "CHUNK_SIZE",
    "DEAD_LETTER_QUEUE",
    "DEFAULT_DATA_DIR",
    "DEFAULT_HTTP_BODY_IDLE_TIMEOUT",
    "DEFAULT_HTTP_HEAD_TIMEOUT",
    "DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT",
    "DEFAULT_HTTP_MAX_HEADERS",
    "DEFAULT_HTTP_MAX_HEADER_BYTES",
    "DEFAULT_HTTP_MAX_URL_BYTES",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_MAX_DELIVERIES",
    "DEFAULT_MAX_META_BYTES",
    "DEFAULT_MAX_META_ENTRIES",
    "DEFAULT_MAX_OBJECT_SIZE",
    "DEFAULT_MAX_RETRY_DELAY",
    "DEFAULT_PENDING_TIMEOUT",
    "DEFAULT_VALIDATOR_CPU_SECONDS",
    "DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB",
    "DEFAULT_VALIDATOR_MEMORY",
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

#: HTTP limits of every service (see docs/http.md). The request head (request line and
#: headers) is small for every real client; these bound what a hostile one can make the
#: server hold or wait for.
DEFAULT_HTTP_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_HTTP_MAX_HEADERS = 100
#: Room for a 1024-character key percent-encoded three times over, plus a query.
DEFAULT_HTTP_MAX_URL_BYTES = 8 * 1024
DEFAULT_HTTP_HEAD_TIMEOUT = 20.0
DEFAULT_HTTP_BODY_IDLE_TIMEOUT = 60.0
DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT = 5.0

#: Outages and crashes (see docs/worker.md). The longest wait between two tries of a job
#: that a backend fault stopped; such tries spend none of ``max_attempts``.
DEFAULT_MAX_RETRY_DELAY = 300.0
#: Deliveries of one message that may end unsettled (the worker died each time) before the
#: next one is dead-lettered and its record failed instead of processed again.
DEFAULT_MAX_DELIVERIES = 5

#: Validator processes (see docs/kinds.md). Each one's address space: the libraries take
#: about 75 MiB, the largest image frame accepted (64 megapixels at 4 bytes) 256 MiB.
DEFAULT_VALIDATOR_MEMORY = 768 * 1024 * 1024
#: CPU seconds one object may take to validate, plus this many per GiB of it.
DEFAULT_VALIDATOR_CPU_SECONDS = 30.0
DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB = 60.0
