"""One typed settings object, read from ``SANGRAHA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ._constants import (
    DEFAULT_DATA_DIR,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_META_BYTES,
    DEFAULT_MAX_META_ENTRIES,
    DEFAULT_MAX_OBJECT_SIZE,
    DEFAULT_PENDING_TIMEOUT,
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

    max_object_size: int = Field(default=DEFAULT_MAX_OBJECT_SIZE, gt=0)
    max_meta_entries: int = Field(default=DEFAULT_MAX_META_ENTRIES, ge=0)
    max_meta_bytes: int = Field(default=DEFAULT_MAX_META_BYTES, ge=0)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    pending_timeout: float = Field(default=DEFAULT_PENDING_TIMEOUT, gt=0)
    worker_concurrency: int = Field(default=2, ge=1)
    api_key: str = ""
    """When set, every request must carry ``Authorization: Bearer <api_key>``."""

    @model_validator(mode="after")
    def _embedded_defaults(self) -> Settings:
        data = self.data_dir.resolve()
        if not self.blob_url:
            self.blob_url = (data / "blobs").as_uri()
        if not self.metadata_url:
            self.metadata_url = f"sqlite:///{data / 'metadata.db'}"
        if not self.queue_url:
            self.queue_url = "memory://"
        return self
