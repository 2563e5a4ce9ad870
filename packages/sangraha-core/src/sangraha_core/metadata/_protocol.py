"""The metadata store contract, one protocol per aggregate, and the optional capabilities
a store may add to it.

``MetadataStore`` is the whole contract: ``ObjectIndex`` (object records),
``BlobReferences`` (blob reference counts and their collection), ``IdempotencyKeys``,
``UploadSessions`` and ``Buckets``, with the database's own upkeep. A caller that needs one
aggregate only can ask for that one. ``CreatesMany`` and ``WatchesKeys`` are not part of
the contract: test for them with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from .._buckets import Bucket, BucketKinds, BucketSummary
from .._digest import Digest
from .._models import FailureKind, ListQuery, ObjectRecord, Page, PartRecord, UploadSession
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
    "UploadSessions",
    "WatchesKeys",
]


class FinalizeResult:
    """What ``finalize_ready`` did: the record as it now stands, and whether the blob is new
    (``blob_created``: no reference held it before this one, so a garbage collection may
    have deleted its bytes; the caller checks they are there)."""

    __slots__ = ("blob_created", "record")

    def __init__(self, record: ObjectRecord | None, blob_created: bool) -> None:
        self.record = record
        self.blob_created = blob_created


@dataclass(frozen=True, slots=True)
class ReadyObject:
    """One record for ``finalize_ready_many`` to make ready: its verified bytes' ``digest``
    and ``size``, and the metadata ``extracted`` from them."""

    object_id: str
    digest: Digest
    size: int
    extracted: dict[str, Any]


@runtime_checkable
class ObjectIndex(Protocol):
    """Object records: one per version of a key, pending until processed, then ready or
    failed; a ready one holds a reference on its blob."""

    def create_object(
        self, record: ObjectRecord, *, buckets: Mapping[str, BucketKinds | None] | None = None
    ) -> None:
        """Insert a record; ``buckets`` as ``CreatesMany.create_objects`` takes it."""
        ...

    def get_object(self, object_id: str) -> ObjectRecord:
        """Raise ``ObjectNotFoundError`` if there is no such version."""
        ...

    def get_objects(self, object_ids: Sequence[str]) -> dict[str, ObjectRecord]:
        """The versions of ``object_ids`` that exist, by id, read at one moment; an id with
        no version is left out."""
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

    def finalize_ready_many(self, ready: Sequence[ReadyObject]) -> list[FinalizeResult]:
        """``finalize_ready`` of each of ``ready``, all in one transaction (all of them, or
        none); a result for each, in order. A record named twice is made ready once."""
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


@runtime_checkable
class BlobReferences(Protocol):
    """One count per stored digest of the ready records that reference it."""

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


@runtime_checkable
class IdempotencyKeys(Protocol):
    """Which object a client's idempotency key made, and for which request."""

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


@runtime_checkable
class UploadSessions(Protocol):
    """Chunked uploads in progress and the parts each has received."""

    def create_upload(self, session: UploadSession) -> None: ...

    def get_upload(self, upload_id: str) -> UploadSession:
        """With its parts in number order; ``UploadNotFoundError`` if unknown."""
        ...

    def put_part(self, upload_id: str, part: PartRecord) -> None:
        """Record a part, replacing an earlier one with the same number."""
        ...

    def finish_upload(self, upload_id: str, *, status: str, object_id: str | None) -> None:
        """Mark a session completed (with the record it made) or aborted, from any state."""
        ...

    def claim_upload(self, upload_id: str, *, stale_before: datetime) -> bool:
        """Move the session from ``open`` to ``completing`` (stamping ``claimed_at``), or
        take over a ``completing`` one claimed before ``stale_before`` (its claimant
        presumably died), atomically: of concurrent claims exactly one is True. False: the
        session is in another state, or claimed since ``stale_before``.
        ``UploadNotFoundError`` if unknown."""
        ...

    def release_upload(self, upload_id: str) -> None:
        """Move a ``completing`` session back to ``open`` (its completion failed in a way
        a repeated ``complete`` may mend); a session in any other state is left as is."""
        ...

    def expired_uploads(self, now: datetime, *, limit: int = 100) -> list[UploadSession]: ...

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 1000,
    ) -> list[UploadSession]:
        """At most ``limit`` open sessions of ``bucket`` (whose key starts with ``prefix``),
        in (key, id) order, strictly after ``after`` = (key, upload id): S3's
        ListMultipartUploads. Each session's ``parts`` is left empty (``get_upload`` has
        them), and one past its expiry is listed until ``Uploads.expire`` sweeps it."""
        ...

    def delete_upload(self, upload_id: str) -> None: ...


@runtime_checkable
class Buckets(Protocol):
    """Buckets and their kind policies.

    Records and sessions name their bucket; no foreign key ties them to its row. A
    bucket's row is made by ``create_bucket`` (the services make it before the first
    upload to it), ``delete_bucket`` refuses a bucket anything still lives in, and the
    services' uploads make their record with ``create_objects(..., buckets=...)``, which
    checks and locks the row in the record's own transaction: a record never lands in a
    bucket deleted meanwhile.
    """

    def create_bucket(self, name: str, kinds: BucketKinds, *, exist_ok: bool = False) -> Bucket:
        """Make the bucket ``name`` with policy ``kinds``.

        :raises InvalidNameError: ``validate_bucket`` refuses ``name``.
        :raises BucketAlreadyExistsError: it exists, unless ``exist_ok``, which answers the
            existing bucket unchanged (whatever its policy).
        """
        ...

    def get_bucket(self, name: str) -> Bucket:
        """Raise ``BucketNotFoundError`` if there is no such bucket."""
        ...

    def list_buckets(self) -> list[BucketSummary]:
        """Every bucket with its totals, by name. The totals cost a read of every object
        version; a caller that needs none uses ``list_buckets_without_totals``."""
        ...

    def list_buckets_without_totals(self) -> list[Bucket]:
        """Every bucket, by name, without totals: a read of the buckets alone."""
        ...

    def set_bucket_kinds(self, name: str, kinds: BucketKinds) -> Bucket:
        """Change a bucket's policy (versions already stored keep their kind); the bucket
        as it now stands. Raise ``BucketNotFoundError`` if there is no such bucket."""
        ...

    def delete_bucket(self, name: str) -> None:
        """Remove an empty bucket.

        :raises BucketNotFoundError: there is no such bucket.
        :raises BucketNotEmptyError: an object version (of any status) or an open upload
            session that has not expired is in it.
        """
        ...


@runtime_checkable
class MetadataStore(
    ObjectIndex, BlobReferences, IdempotencyKeys, UploadSessions, Buckets, Protocol
):
    """Object records and everything that must change with them in one transaction: every
    aggregate of the metadata, in one database.

    Every implementation (SQLite and PostgreSQL today) passes one conformance suite.
    Unreachable databases raise ``MetadataUnavailableError``.
    """

    def migrate(self) -> None:
        """Create or upgrade the schema; idempotent and safe to run from many processes."""
        ...

    def check(self) -> None:
        """Raise ``MetadataUnavailableError`` if the database cannot be reached."""
        ...

    def close(self) -> None: ...


# -- optional capabilities -------------------------------------------------------------


@runtime_checkable
class CreatesMany(Protocol):
    """A metadata store that writes several records in one transaction: all, or none."""

    def create_objects(
        self,
        records: Sequence[ObjectRecord],
        *,
        buckets: Mapping[str, BucketKinds | None] | None = None,
    ) -> None:
        """Insert the records in one transaction.

        With ``buckets`` (which names every record's bucket), each record is inserted only
        if its bucket's row exists in that same transaction, locked against
        ``delete_bucket`` until the commit: a bucket mapped to a policy is made with it if
        missing; one mapped to ``None`` must exist, else ``BucketNotFoundError`` (naming
        it) and nothing is written. Without ``buckets`` (bulk loads, seeding), buckets are
        not looked at.
        """
        ...


@runtime_checkable
class WatchesKeys(Protocol):
    """A metadata store that tells listeners in its process when a key may read another
    version (a version made ready, a delete); changes by other processes go unseen."""

    def on_key_change(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(bucket, key)`` after each such commit of this store."""
        ...


@runtime_checkable
class Stats(Protocol):
    """A metadata store that counts what it holds: versions by status, and the bytes of
    ready versions and of the blobs they reference (the store gauges of ``/metrics``).

    A count may read every record: callers keep the answer a while rather than asking
    per request.
    """

    def stats(self) -> StoreStats: ...
