"""The metadata store contract: records, blob references, upload sessions, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .._digest import Digest
from .._models import FailureKind, ListQuery, ObjectRecord, Page, PartRecord, UploadSession

__all__ = ["FinalizeResult", "MetadataStore"]


class FinalizeResult:
    """What ``finalize_ready`` did: the record as it now stands, and whether the blob is new."""

    __slots__ = ("blob_created", "record")

    def __init__(self, record: ObjectRecord | None, blob_created: bool) -> None:
        self.record = record
        self.blob_created = blob_created


@runtime_checkable
class MetadataStore(Protocol):
    """Object records and everything that must change with them in one transaction.

    Every implementation (SQLite and PostgreSQL today) passes one conformance suite.
    Unreachable databases raise ``MetadataUnavailableError``.
    """

    def migrate(self) -> None:
        """Create or upgrade the schema; idempotent and safe to run from many processes."""
        ...

    # -- object records -------------------------------------------------------------
    def create_object(self, record: ObjectRecord) -> None: ...

    def get_object(self, object_id: str) -> ObjectRecord:
        """Raise ``ObjectNotFoundError`` if there is no such version."""
        ...

    def get_latest(self, bucket: str, key: str) -> ObjectRecord:
        """The newest ready version of ``key``.

        If no version is ready but one is pending, raise ``ObjectPendingError``; if none
        exists (or every version failed), raise ``ObjectNotFoundError``.
        """
        ...

    def get_newest(self, bucket: str, key: str) -> ObjectRecord:
        """The newest version of ``key`` whatever its status (to poll an upload's progress);
        ``ObjectNotFoundError`` if the key has no version."""
        ...

    def list_objects(self, query: ListQuery) -> Page[ObjectRecord]:
        """Records in (key, id) order; the cursor is opaque and stays valid under inserts."""
        ...

    def finalize_ready(
        self, object_id: str, *, digest: Digest, size: int, extracted: dict[str, Any]
    ) -> FinalizeResult:
        """In one transaction: if the record is still pending, take a reference on the blob
        ``digest`` (creating its row when new) and mark the record ready.

        Idempotent: for a record already ready, or deleted, nothing changes and the result
        says so (``record`` is ``None`` when it was deleted).
        """
        ...

    def mark_failed(
        self, object_id: str, reason: str, *, kind: FailureKind = FailureKind.FINAL
    ) -> ObjectRecord | None:
        """Mark a pending record failed with ``reason`` and ``kind`` (a ready or failed one
        is left alone); ``None`` if deleted. ``RETRIABLE`` says running it again may still
        make it ready: its staged bytes are kept, and ``reopen_failed`` may undo it."""
        ...

    def retriable_failures(self, *, limit: int = 100) -> list[ObjectRecord]:
        """Records failed with ``FailureKind.RETRIABLE``, least recently changed first."""
        ...

    def reopen_failed(self, object_id: str) -> ObjectRecord | None:
        """Make a record failed with ``FailureKind.RETRIABLE`` pending again (reason cleared,
        touched), for a replay; any other record is left alone. Return the record as it now
        stands, ``None`` if deleted."""
        ...

    def delete_objects(self, bucket: str, key: str, *, version: str | None = None) -> int:
        """Delete every version of ``key`` (or just ``version``), dropping their blob
        references in the same transaction. Return how many records went."""
        ...

    def pending_before(self, cutoff: datetime, *, limit: int = 100) -> list[ObjectRecord]:
        """Pending records last touched before ``cutoff``, oldest first (for the reconciler)."""
        ...

    def touch(self, object_id: str) -> None:
        """Bump ``updated_at`` so the reconciler leaves a freshly re-published record alone."""
        ...

    # -- blob references --------------------------------------------------------------
    def blob_refcount(self, digest: Digest) -> int:
        """References held on ``digest`` (0 when it has no row)."""
        ...

    def collect_garbage(self, delete_blob: Callable[[Digest], None], *, limit: int = 100) -> int:
        """Delete blobs no record references, safely against a concurrent ``finalize_ready``.

        For each unreferenced blob row: lock it, call ``delete_blob(digest)`` while the lock
        is held, then remove the row, so a worker taking a new reference waits and then
        sees the row gone (``blob_created=True``) and writes the bytes again.
        Return how many blobs went.
        """
        ...

    # -- idempotency keys -------------------------------------------------------------
    def remember_idempotency_key(
        self, scope: str, key: str, fingerprint: str, object_id: str
    ) -> str:
        """Store ``key -> object_id`` unless the key is known; return the stored object id.

        Raise ``InvalidRequestError`` if the key was used with a different fingerprint.
        """
        ...

    def lookup_idempotency_key(self, scope: str, key: str) -> tuple[str, str] | None:
        """``(fingerprint, object_id)`` for a known key, else ``None``."""
        ...

    # -- upload sessions --------------------------------------------------------------
    def create_upload(self, session: UploadSession) -> None: ...

    def get_upload(self, upload_id: str) -> UploadSession:
        """With its parts in number order; ``UploadNotFoundError`` if unknown."""
        ...

    def put_part(self, upload_id: str, part: PartRecord) -> None:
        """Record a part, replacing an earlier one with the same number."""
        ...

    def finish_upload(self, upload_id: str, *, status: str, object_id: str | None) -> None:
        """Mark a session completed (with the record it made) or aborted."""
        ...

    def expired_uploads(self, now: datetime, *, limit: int = 100) -> list[UploadSession]: ...

    def delete_upload(self, upload_id: str) -> None: ...

    def check(self) -> None:
        """Raise ``MetadataUnavailableError`` if the database cannot be reached."""
        ...

    def close(self) -> None: ...
