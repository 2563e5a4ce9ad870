"""The shapes shared by the services and the SDK: records, sessions, pages, problems."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ._digest import Digest

__all__ = [
    "CONTENT_TYPES",
    "FailureKind",
    "ListQuery",
    "ObjectKind",
    "ObjectRecord",
    "ObjectStatus",
    "Page",
    "PartRecord",
    "Problem",
    "UploadSession",
    "UploadStatus",
    "new_id",
    "utcnow",
]

T = TypeVar("T")


class ObjectKind(StrEnum):
    JSON = "json"
    IMAGE = "image"
    PDF = "pdf"
    OPAQUE = "opaque"
    """Any other content type, in a bucket whose policy is ``BucketKinds.ANY``: stored and
    deduplicated like the others, never validated, with no extracted metadata."""


#: Every Content-Type Sangraha accepts, and the kind it names.
CONTENT_TYPES: dict[str, ObjectKind] = {
    "application/json": ObjectKind.JSON,
    "image/png": ObjectKind.IMAGE,
    "image/jpeg": ObjectKind.IMAGE,
    "image/gif": ObjectKind.IMAGE,
    "image/webp": ObjectKind.IMAGE,
    "application/pdf": ObjectKind.PDF,
}


class ObjectStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Whether running a failed version's processing again could change its outcome."""

    FINAL = "final"
    """Found in the version's own bytes (invalid, corrupt) or their loss: running it again
    can only fail the same way."""
    RETRIABLE = "retriable"
    """Processing could not finish (an unexpected error on every attempt, a worker that died
    each time): ``sangraha-worker replay`` runs it again, and its staged bytes are kept."""


class UploadStatus(StrEnum):
    OPEN = "open"
    #: A ``complete`` is under way: it holds the session until it ends, so a concurrent or
    #: repeated one waits for its outcome rather than joining the parts a second time.
    COMPLETING = "completing"
    COMPLETED = "completed"
    ABORTED = "aborted"


def utcnow() -> datetime:
    return datetime.now(UTC)


_RAND_BITS = 74
_id_lock = threading.Lock()
_last_id: tuple[int, int] = (0, 0)


def new_id() -> str:
    """A 32-hex-digit UUIDv7: unique, and sortable by creation time.

    Monotonic within a process (RFC 9562, method 2): ids made in the same millisecond
    count up from the previous one instead of drawing fresh random bits, so two versions
    of a key written back to back always sort in the order they were made.
    """
    global _last_id
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        last_ms, last_rand = _last_id
        if ms > last_ms:
            rand = int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS)
        else:
            ms = last_ms
            rand = last_rand + 1 + (int.from_bytes(os.urandom(4), "big") >> 8)
            if rand >> _RAND_BITS:
                ms, rand = ms + 1, int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS + 1)
        _last_id = (ms, rand)
    rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b
    return f"{value:032x}"


class ObjectRecord(BaseModel):
    """One immutable version of an object: what it is, where its bytes are, how it went."""

    model_config = ConfigDict(frozen=True)

    id: str
    bucket: str
    key: str
    status: ObjectStatus
    kind: ObjectKind
    content_type: str
    size: int
    digest: Digest
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, str] = Field(default_factory=dict)
    """User metadata, from ``X-Sangraha-Meta-*`` headers."""
    extracted: dict[str, Any] = Field(default_factory=dict)
    """System metadata the worker extracted from the bytes (shape, dimensions, pages...)."""
    error: str | None = None
    """Why processing failed, when ``status`` is ``failed``."""
    failure_kind: FailureKind | None = None
    """When ``status`` is ``failed``: final, or retriable (a replay may still make it ready)."""
    etag: str | None = None
    """The S3 ETag, without quotes: the MD5 hex of a single upload, or ``<MD5 hex of the
    parts' binary MD5s joined>-<number of parts>`` of a multipart one; ``None`` where the
    upload did not ask for it (``Ingest.accept(md5=True)``, parts sent with ``md5=True``)."""


class PartRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    size: int
    etag: str
    """The blob store's tag of this sending of the part (what its join names)."""
    digest: Digest
    md5: str | None = None
    """The part's MD5 hex (its S3 ETag), where ``put_part`` was asked for it."""


class UploadSession(BaseModel):
    """A chunked upload: parts arrive in any order, then ``complete`` assembles them."""

    model_config = ConfigDict(frozen=True)

    id: str
    bucket: str
    key: str
    content_type: str
    kind: ObjectKind
    size: int | None = None
    digest: Digest | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    status: UploadStatus = UploadStatus.OPEN
    created_at: datetime
    expires_at: datetime
    parts: list[PartRecord] = Field(default_factory=list)
    min_part_size: int
    max_part_size: int
    max_parts: int
    object_id: str | None = None
    """The record that ``complete`` created."""
    multipart_id: str | None = Field(default=None, exclude=True)
    """The blob store's own multipart upload id; never shown to clients."""
    type_from_bytes: bool = Field(default=False, exclude=True)
    """Opened without a type: ``complete`` decides ``content_type`` and ``kind`` from the
    assembled bytes, which until then are ``application/octet-stream`` and opaque."""
    claimed_at: datetime | None = Field(default=None, exclude=True)
    """When the ``complete`` holding a ``completing`` session took it (store-internal)."""


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = None


class ListQuery(BaseModel):
    """A listing or search within one bucket. Results are ordered by key, then version id."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str | None = None
    kind: ObjectKind | None = None
    status: ObjectStatus | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_after: datetime | None = None
    created_before: datetime | None = None
    latest_only: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None
    start_after: str | None = None
    """Only keys strictly greater than this one (byte-wise in UTF-8, the listing's order):
    S3's ``marker`` and ``start-after``. Applies together with ``cursor``."""


class Problem(BaseModel):
    """An RFC 9457 problem detail, the body of every error answer."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
