"""One typed settings object, read from ``SANGRAHA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._buckets import BucketKinds
from ._constants import (
    DEFAULT_DATA_DIR,
    DEFAULT_HTTP_BODY_IDLE_TIMEOUT,
    DEFAULT_HTTP_HEAD_TIMEOUT,
    DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT,
    DEFAULT_HTTP_MAX_HEADER_BYTES,
    DEFAULT_HTTP_MAX_HEADERS,
    DEFAULT_HTTP_MAX_URL_BYTES,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELIVERIES,
    DEFAULT_MAX_META_BYTES,
    DEFAULT_MAX_META_ENTRIES,
    DEFAULT_MAX_OBJECT_SIZE,
    DEFAULT_MAX_RETRY_DELAY,
    DEFAULT_PENDING_TIMEOUT,
    DEFAULT_VALIDATOR_CPU_SECONDS,
    DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB,
    DEFAULT_VALIDATOR_MEMORY,
)

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where the backends are and how the services behave.

    The backends are chosen by URL scheme. Left unset, each one defaults to the embedded
    choice under ``data_dir``: ``file://<data_dir>/blobs``, ``sqlite:///<data_dir>/metadata.db``
    and ``memory://``.
    """

    model_config = SettingsConfigDict(env_prefix="SANGRAHA_", extra="ignore")

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    blob_url: str = ""
    """``file:///path`` or ``s3://bucket?endpoint=http://host:9000&region=us-east-1``."""
    metadata_url: str = ""
    """``sqlite:///path/metadata.db`` or ``postgresql://user@host:5432/db``."""
    queue_url: str = ""
    """``memory://`` or ``amqp://user:pass@host:5672/vhost``."""
    queue_prefix: str = ""
    """Prefixed to exchange and queue names, so deployments can share one broker."""
    cache_url: str = ""
    """Empty for an in-process cache, or ``redis://host:6379/0``."""

    bucket_kinds: BucketKinds = BucketKinds.VALIDATED
    """The kind policy of a bucket made without one: by an upload to a bucket that does not
    exist yet (the v1 API), or by S3's CreateBucket. docs/buckets.md says what each means."""

    max_object_size: int = Field(default=DEFAULT_MAX_OBJECT_SIZE, gt=0)
    max_meta_entries: int = Field(default=DEFAULT_MAX_META_ENTRIES, ge=0)
    max_meta_bytes: int = Field(default=DEFAULT_MAX_META_BYTES, ge=0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    pending_timeout: float = Field(default=DEFAULT_PENDING_TIMEOUT, gt=0)
    worker_concurrency: int = Field(default=2, ge=1)
    worker_batch: int = Field(default=16, ge=1)
    """Most jobs one worker thread takes at once, their records made ready together."""

    # Outages and crashes; docs/worker.md says how the worker settles each job.
    max_retry_delay: float = Field(default=DEFAULT_MAX_RETRY_DELAY, gt=0)
    """Most seconds between two tries of a job a backend fault stopped (tries without end)."""
    max_deliveries: int = Field(default=DEFAULT_MAX_DELIVERIES, ge=1)
    """Deliveries of one job that may end with the worker dead before the job is failed."""

    # Validator processes; docs/kinds.md says what ends one and what the object then says.
    validator_memory: int = Field(default=DEFAULT_VALIDATOR_MEMORY, ge=128 * 1024 * 1024)
    """Address space of each validator process, in bytes."""
    validator_cpu_seconds: float = Field(default=DEFAULT_VALIDATOR_CPU_SECONDS, gt=0)
    """CPU seconds the validation of any one object may take..."""
    validator_cpu_seconds_per_gib: float = Field(
        default=DEFAULT_VALIDATOR_CPU_SECONDS_PER_GIB, ge=0
    )
    """... and this many more per GiB of the object."""

    # Access control; docs/access.md says what each key may do and how keys are managed.
    auth: Literal["keys", "off"] = "keys"
    """``keys``: every request but the probes needs an access key. ``off``: anyone may do
    anything (for a server only its own machine can reach)."""
    master_key: SecretStr = SecretStr("")
    """The key access key secrets are sealed under (32 bytes, URL-safe base64)..."""
    master_key_file: Path | None = None
    """... or a file holding it; left unset, ``<data_dir>/master.key``."""
    region: str = "us-east-1"
    """The region SigV4 signatures are scoped to."""
    key_refresh: float = Field(default=2.0, gt=0, le=5)
    """Seconds a service trusts what it last read of a key: a revocation or rotation takes
    effect on every process within this time."""
    key_rate_limit: float = Field(default=0, ge=0)
    """Requests a second each key may make on one process (``0``: no limit); a key's own
    limit overrides it."""
    auth_failure_limit: int = Field(default=20, ge=1)
    """Failed sign-ins one client address may make in ``auth_failure_window`` seconds
    before it is refused (429) for the rest of the window."""
    auth_failure_window: float = Field(default=60.0, gt=0)
    api_key: str = ""
    """An operator token outside the key store: ``Authorization: Bearer <api_key>`` may do
    anything. For break-glass access; it cannot be revoked without a restart."""

    # HTTP limits of every service; docs/http.md says what each one answers.
    http_max_header_bytes: int = Field(default=DEFAULT_HTTP_MAX_HEADER_BYTES, gt=0)
    """Largest request head (request line and headers) in bytes; more answers 431."""
    http_max_headers: int = Field(default=DEFAULT_HTTP_MAX_HEADERS, gt=0)
    """Most header fields in one request; more answers 431."""
    http_max_url_bytes: int = Field(default=DEFAULT_HTTP_MAX_URL_BYTES, gt=0)
    """Longest request target (path and query) in bytes; longer answers 414."""
    http_head_timeout: float = Field(default=DEFAULT_HTTP_HEAD_TIMEOUT, gt=0)
    """Seconds a request head may take to arrive, counted from the connection opening (first
    request) or from its first byte (later ones); then 408 and the connection is closed."""
    http_body_idle_timeout: float = Field(default=DEFAULT_HTTP_BODY_IDLE_TIMEOUT, gt=0)
    """Seconds a request body may go without a byte arriving; then the connection is closed."""
    http_keep_alive_timeout: float = Field(default=DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT, gt=0)
    """Seconds an idle connection is kept open after a response for the next request."""

    s3_ready_timeout: float = Field(default=25.0, gt=0, le=600)
    """Seconds an S3 write (PutObject, CopyObject, CompleteMultipartUpload) waits for its
    version to be processed before answering 503 with ``Retry-After``; the bytes are kept
    and processed all the same."""

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        data = self.data_dir.resolve()
        if not self.blob_url:
            self.blob_url = (data / "blobs").as_uri()
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{data / 'metadata.db'}"
        if not self.queue_url:
            self.queue_url = "memory://"
        if self.master_key_file is None and not self.master_key.get_secret_value():
            self.master_key_file = data / "master.key"
        return self
