"""The client's defaults, in one place so they are easy to find and to change."""

from __future__ import annotations

import httpx

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PART_SIZE",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_KEY",
    "ENV_URL",
    "ENV_WRITE_URL",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
    "PARTIAL_SUFFIX",
    "SIDECAR_SUFFIX",
    "STREAM_CHUNK_SIZE",
]

ENV_URL = "SANGRAHA_URL"
ENV_WRITE_URL = "SANGRAHA_WRITE_URL"
ENV_API_KEY = "SANGRAHA_API_KEY"
#: An access key's bearer token; read before ``ENV_API_KEY``, which on a server is the
#: operator token, so the two never need to share a name in one shell.
ENV_KEY = "SANGRAHA_KEY"

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
#: Connecting should be quick; reading a large body or waiting for processing may not be.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2

#: Backoff is ``min(INITIAL_RETRY_DELAY * 2**n, MAX_RETRY_DELAY)`` with jitter.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A ``Retry-After`` longer than this is ignored in favour of our own backoff.
MAX_RETRY_AFTER = 60.0

#: Files larger than this go up in parts through an upload session.
DEFAULT_THRESHOLD = 64 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_CONCURRENCY = 4
DEFAULT_WAIT_TIMEOUT = 60.0

STREAM_CHUNK_SIZE = 1024 * 1024
#: ``download_file`` writes ``<path>.part`` and renames it only once the digest matches.
PARTIAL_SUFFIX = ".part"
#: ``upload_file`` remembers its session id here so that a re-run resumes it.
SIDECAR_SUFFIX = ".sangraha-upload"
