"""The metadata tables and the versioned migrations that build them.

One schema serves SQLite and PostgreSQL. Each migration is a numbered step; the
``schema_version`` table records the steps applied, and :func:`upgrade` runs the missing
ones inside a transaction that holds a database-wide lock, so many processes may start
at once and exactly one of them does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    case,
    false,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

__all__ = [
    "MIGRATIONS",
    "Migration",
    "UtcDateTime",
    "access_keys",
    "blobs",
    "buckets",
    "idempotency_keys",
    "object_metadata",
    "objects",
    "schema_version",
    "upgrade",
    "upload_parts",
    "uploads",
    "uploads_listing",
]

#: Any fixed number: every process that migrates takes this PostgreSQL advisory lock.
_MIGRATION_LOCK_ID = 0x5A6E_6172_6168_0001


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text, whose lexical order is
    its time order, so range filters and indexes work the same on both. Naive values
    given by callers are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Keys compare byte-wise on both engines (PostgreSQL's "C" collation, SQLite's BINARY), so
# ORDER BY, the cursor comparison and the prefix range all agree whatever the server locale.
_Key = Text().with_variant(Text(collation="C"), "postgresql")
_Id = String(32)
_Digest = String(71)

schema = MetaData()

schema_version = Table(
    "schema_version",
    schema,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

objects = Table(
    "objects",
    schema,
    Column("id", _Id, primary_key=True),
    Column("bucket", Text, nullable=False),
    Column("key", _Key, nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("digest", _Digest, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("extracted", Text, nullable=False, server_default="{}"),
    Column("error", Text, nullable=True),
    # ``final`` or ``retriable`` for a failed record (FailureKind); NULL otherwise.
    Column("failure_kind", String(16), nullable=True),
    # The S3 ETag: the MD5 of an upload made through the S3 API, or ``<md5 of the parts'
    # md5s>-<n>`` for a multipart one; NULL where none was computed (the v1 API).
    Column("etag", Text, nullable=True),
    # Listing walks this index in (key, id) order; get_latest reads it backwards.
    Index("ix_objects_listing", "bucket", "key", "id"),
    # A kind filter walks only that kind's versions, still in (key, id) order.
    Index("ix_objects_kind", "bucket", "kind", "key", "id"),
    # The reconciler's "pending for too long, oldest first".
    Index("ix_objects_pending", "status", "updated_at"),
)

object_metadata = Table(
    "object_metadata",
    schema,
    Column("object_id", _Id, ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Text, nullable=False),
    # Copies of the record's (immutable) bucket and key, so that a metadata-equality
    # search walks the matching entries already in listing order: the page costs the
    # rows it returns, however rare or common the value is.
    Column("bucket", Text, nullable=False),
    Column("key", _Key, nullable=False),
    # Answers "does this record carry name=value" for the second and later pairs.
    PrimaryKeyConstraint("object_id", "name"),
    Index("ix_object_metadata_search", "name", "value", "bucket", "key", "object_id"),
)

blobs = Table(
    "blobs",
    schema,
    Column("digest", _Digest, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("refcount", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("refcount >= 0", name="ck_blobs_refcount"),
    Index("ix_blobs_refcount", "refcount"),
)

idempotency_keys = Table(
    "idempotency_keys",
    schema,
    Column("scope", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("object_id", _Id, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

uploads = Table(
    "uploads",
    schema,
    Column("id", _Id, primary_key=True),
    Column("bucket", Text, nullable=False),
    Column("key", _Key, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("size", BigInteger, nullable=True),
    Column("digest", _Digest, nullable=True),
    Column("metadata", Text, nullable=False, server_default="{}"),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("min_part_size", BigInteger, nullable=False),
    Column("max_part_size", BigInteger, nullable=False),
    Column("max_parts", Integer, nullable=False),
    Column("object_id", _Id, nullable=True),
    Column("multipart_id", Text, nullable=True),
    # Opened without a type: the assembled bytes decide it at completion.
    Column("type_from_bytes", Boolean, nullable=False, server_default=false()),
    # When a ``complete`` claimed the session (status ``completing``): a claim left by a
    # process that died is taken over once it is old enough.
    Column("claimed_at", UtcDateTime, nullable=True),
    Index("ix_uploads_expires_at", "expires_at"),
)
# A bucket's sessions in key order (S3's ListMultipartUploads), and whether it has any.
uploads_listing = Index("ix_uploads_listing", uploads.c.bucket, uploads.c.key, uploads.c.id)

upload_parts = Table(
    "upload_parts",
    schema,
    Column("upload_id", _Id, ForeignKey("uploads.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", Text, nullable=False),
    Column("digest", _Digest, nullable=False),
    # The part's MD5 in hex, where the client's protocol needs it (S3's part ETag).
    Column("md5", Text, nullable=True),
    PrimaryKeyConstraint("upload_id", "number"),
)

access_keys = Table(
    "access_keys",
    schema,
    Column("key_id", String(32), primary_key=True),
    Column("name", Text, nullable=False, server_default=""),
    # JSON: [{"buckets": "photos-*", "actions": ["list", "read"]}, ...]
    Column("grants", Text, nullable=False),
    # AES-GCM under the master key, never the secret itself (access/_seal.py).
    Column("sealed_secret", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("last_used_at", UtcDateTime, nullable=True),
    Column("rate_limit", Float, nullable=True),
)


buckets = Table(
    "buckets",
    schema,
    Column("name", Text, primary_key=True),
    # BucketKinds: "validated" (JSON, images and PDFs, each validated) or "any" (also opaque).
    Column("kinds", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    """One schema step; ``apply`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    for table in (objects, object_metadata, blobs, idempotency_keys, uploads, upload_parts):
        table.create(conn, checkfirst=True)


def _failure_kind(conn: Connection) -> None:
    # A database made by this version's step 1 has the column already (``objects`` is
    # created from the current table); one made before it does not.
    present = {c["name"] for c in inspect(conn).get_columns("objects")}
    if "failure_kind" not in present:
        conn.execute(text("ALTER TABLE objects ADD COLUMN failure_kind VARCHAR(16)"))
    # Before this step only the worker's give-up wrote "gave up after N attempts: ..." and
    # nothing in such a failure was found in the bytes; every other failure was.
    conn.execute(
        update(objects)
        .where(objects.c.status == "failed", objects.c.failure_kind.is_(None))
        .values(
            failure_kind=case((objects.c.error.like("gave up after %"), "retriable"), else_="final")
        )
    )


def _access_keys(conn: Connection) -> None:
    access_keys.create(conn, checkfirst=True)


def _buckets_and_etags(conn: Connection) -> None:
    for table, column in (("objects", "etag"), ("upload_parts", "md5")):
        present = {c["name"] for c in inspect(conn).get_columns(table)}
        if column not in present:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} TEXT"))
    buckets.create(conn, checkfirst=True)
    # Buckets were implicit before this step: each one that holds a version or an upload
    # becomes a row, with the policy every bucket had then.
    conn.execute(
        text(
            "INSERT INTO buckets (name, kinds, created_at) "
            "SELECT bucket, 'validated', MIN(created_at) FROM "
            "(SELECT bucket, created_at FROM objects "
            " UNION ALL SELECT bucket, created_at FROM uploads) AS known "
            "WHERE bucket NOT IN (SELECT name FROM buckets) GROUP BY bucket"
        )
    )


def _type_from_bytes(conn: Connection) -> None:
    # A database made by this version's step 1 has the column already.
    present = {c["name"] for c in inspect(conn).get_columns("uploads")}
    if "type_from_bytes" not in present:
        conn.execute(
            text("ALTER TABLE uploads ADD COLUMN type_from_bytes BOOLEAN NOT NULL DEFAULT FALSE")
        )


def _claimed_at(conn: Connection) -> None:
    # A database made by this version's step 1 has the column already.
    present = {c["name"] for c in inspect(conn).get_columns("uploads")}
    if "claimed_at" not in present:
        kind = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
        conn.execute(text(f"ALTER TABLE uploads ADD COLUMN claimed_at {kind}"))


def _uploads_listing(conn: Connection) -> None:
    # A database made by this version's step 1 has the index already.
    uploads_listing.create(conn, checkfirst=True)


#: Append new steps; never edit or reorder a released one.
MIGRATIONS: list[Migration] = [
    Migration(1, "objects, metadata, blobs, idempotency keys, uploads", _initial),
    Migration(2, "objects.failure_kind: final or retriable failures", _failure_kind),
    Migration(3, "access_keys: scoped keys with sealed secrets", _access_keys),
    Migration(4, "buckets with kind policies; S3 ETags of objects and parts", _buckets_and_etags),
    Migration(5, "uploads.type_from_bytes: sessions typed by their bytes", _type_from_bytes),
    Migration(6, "uploads.claimed_at: one complete of a session at a time", _claimed_at),
    Migration(7, "ix_uploads_listing: a bucket's sessions in key order", _uploads_listing),
]


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Released by the commit; a second process waits here and then finds nothing to do.
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    # SQLite: the caller's BEGIN IMMEDIATE already holds the database write lock.


def upgrade(conn: Connection, migrations: list[Migration] | None = None) -> int:
    """Apply every missing step inside the caller's transaction; return the version reached."""
    steps = MIGRATIONS if migrations is None else migrations
    _lock(conn)
    schema_version.create(conn, checkfirst=True)
    current: Any = conn.execute(select(func.max(schema_version.c.version))).scalar()
    version = int(current or 0)
    for step in sorted(steps, key=lambda m: m.version):
        if step.version <= version:
            continue
        step.apply(conn)
        conn.execute(
            schema_version.insert().values(version=step.version, applied_at=datetime.now(UTC))
        )
        version = step.version
    return version
