"""Object records: their rows, their metadata rows, and the blob references they hold.

A record takes its reference on a blob in the transaction that makes it ready, and drops
it in the one that deletes it, so the references belong to the records; collecting the
blobs nobody references is the blobs' own business (``_sql_blobs``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import Select

from .._buckets import BucketKinds
from .._digest import Digest
from .._exceptions import (
    BucketNotFoundError,
    InvalidRequestError,
    ObjectNotFoundError,
    ObjectPendingError,
)
from .._models import FailureKind, ListQuery, ObjectRecord, ObjectStatus, Page, utcnow
from ._protocol import FinalizeResult, ReadyObject
from ._rows import (
    RecordPage,
    decode_cursor,
    encode_cursor,
    object_row,
    record_from_mapping,
    record_from_row,
)
from ._schema import blobs, object_metadata, objects
from ._schema import buckets as bucket_rows
from ._sql_database import SqlDatabase
from ._sql_queries import BY_ID, BY_IDS, LATEST_READY, CursorRead, listing_statement

__all__ = ["SqlObjects"]

#: Bulk inserts of at least this many records refresh the planner's statistics at once.
_ANALYZE_AFTER = 1000


class SqlObjects(SqlDatabase):
    """The ``ObjectIndex`` part of the store, with ``CreatesMany`` and ``WatchesKeys``."""

    def on_key_change(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(bucket, key)`` after each commit of this store that may change
        which version a key reads (a version made ready, a delete), so a cache in the same
        process can drop what it holds. Changes made by other processes are not seen."""
        self._key_listeners.append(callback)

    def _key_changed(self, bucket: str, key: str) -> None:
        for callback in self._key_listeners:
            callback(bucket, key)

    def _load(self, conn: Connection, stmt: Select[Any]) -> list[ObjectRecord]:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        meta: dict[str, dict[str, str]] = {i: {} for i in ids}
        for object_id, name, value in conn.execute(
            select(
                object_metadata.c.object_id, object_metadata.c.name, object_metadata.c.value
            ).where(object_metadata.c.object_id.in_(ids))
        ):
            meta[object_id][name] = value
        return [record_from_row(row, meta[row.id]) for row in rows]

    def _load_one(self, conn: Connection, object_id: str) -> ObjectRecord | None:
        found = self._load(conn, select(objects).where(objects.c.id == object_id))
        return found[0] if found else None

    def create_object(
        self, record: ObjectRecord, *, buckets: Mapping[str, BucketKinds | None] | None = None
    ) -> None:
        self.create_objects([record], buckets=buckets)

    def create_objects(
        self,
        records: Sequence[ObjectRecord],
        *,
        buckets: Mapping[str, BucketKinds | None] | None = None,
    ) -> None:
        """Insert several records in one transaction: all of them, or none.

        One commit for many records: the group commit of uploads, and bulk loads (the
        benchmarks seed listings with it). With ``buckets``, see ``CreatesMany``.
        """
        if buckets is not None:
            unnamed = {record.bucket for record in records} - set(buckets)
            if unnamed:
                raise InvalidRequestError(f"buckets does not name {sorted(unnamed)!r}")
        rows = [object_row(record) for record in records]
        meta_rows = [
            {
                "object_id": record.id,
                "name": name,
                "value": value,
                "bucket": record.bucket,
                "key": record.key,
            }
            for record in records
            for name, value in record.metadata.items()
        ]

        def create(conn: Connection) -> None:
            if buckets is not None:
                self._hold_buckets(conn, buckets)
            if rows:
                conn.execute(objects.insert(), rows)
            if meta_rows:
                conn.execute(object_metadata.insert(), meta_rows)

        try:
            self._run(create)
        except IntegrityError as exc:
            ids = ", ".join(repr(record.id) for record in records[:3])
            raise InvalidRequestError(f"an object record with id {ids} already exists") from exc
        if len(records) >= _ANALYZE_AFTER and not self._sqlite:
            # Until autovacuum next analyzes (up to a minute), PostgreSQL would plan listings
            # with the statistics of the smaller table and pick a nested loop that runs
            # seconds a page; a bulk load refreshes them itself.
            self._run(lambda conn: conn.execute(text("ANALYZE objects, object_metadata")))

    def _hold_buckets(self, conn: Connection, wanted: Mapping[str, BucketKinds | None]) -> None:
        """Make sure each bucket of ``wanted`` exists until this transaction ends.

        ``delete_bucket`` locks the row ``FOR UPDATE`` and checks the bucket is empty: the
        ``FOR SHARE`` here waits for a delete under way (then finds no row) or makes the
        delete wait for this commit (then finds the records). SQLite's transactions hold
        the database write lock from ``BEGIN IMMEDIATE``, so they are serial anyway.
        """
        made = [
            {"name": name, "kinds": BucketKinds(kinds).value, "created_at": utcnow()}
            for name, kinds in sorted(wanted.items())
            if kinds is not None
        ]
        if made:
            # Implicitly made buckets: made in the transaction that fills them, so a delete
            # cannot fall between the two.
            conn.execute(
                self._insert(bucket_rows).on_conflict_do_nothing(index_elements=["name"]), made
            )
        stmt = select(bucket_rows.c.name).where(bucket_rows.c.name.in_(sorted(wanted)))
        if not self._sqlite:
            stmt = stmt.with_for_update(read=True)
        present = set(conn.execute(stmt).scalars())
        missing = sorted(set(wanted) - present)
        if missing:
            raise BucketNotFoundError(f"no bucket {missing[0]!r}")

    @staticmethod
    def _load_joined(
        conn: Connection, stmt: Select[Any], params: dict[str, Any]
    ) -> dict[str, ObjectRecord]:
        """The records ``BY_ID``, ``BY_IDS`` or ``LATEST_READY`` finds, by id."""
        rows: dict[str, list[Row[Any]]] = {}
        for row in conn.execute(stmt, params):
            rows.setdefault(row.id, []).append(row)
        return {
            object_id: record_from_row(
                found[0],
                {row.meta_name: row.meta_value for row in found if row.meta_name is not None},
            )
            for object_id, found in rows.items()
        }

    def _load_by_cursor(self, read: CursorRead, values: dict[str, str]) -> ObjectRecord | None:
        """What ``_load_joined`` finds, read through ``_fetch``."""
        rows = self._fetch(read, values)
        if not rows:
            return None
        # The metadata entry is the last two columns (see ``_with_metadata``).
        meta = {row[-2]: row[-1] for row in rows if row[-2] is not None}
        return record_from_mapping(read.mapping(rows[0]), meta)

    def get_object(self, object_id: str) -> ObjectRecord:
        found = self._run(
            lambda conn: self._load_joined(conn, BY_ID, {"object_id": object_id}),
            write=False,
            snapshot=False,
        )
        if object_id not in found:
            raise ObjectNotFoundError(f"no object version with id {object_id!r}")
        return found[object_id]

    def get_objects(self, object_ids: Sequence[str]) -> dict[str, ObjectRecord]:
        if not object_ids:
            return {}
        wanted = {"object_ids": list(dict.fromkeys(object_ids))}
        return self._run(
            lambda conn: self._load_joined(conn, BY_IDS, wanted), write=False, snapshot=False
        )

    def get_latest(self, bucket: str, key: str) -> ObjectRecord:
        same_key = {"bucket": bucket, "key": key}
        found: ObjectRecord | None
        if self._latest_by_cursor is not None:
            found = self._load_by_cursor(self._latest_by_cursor, same_key)
        else:
            latest = self._run(
                lambda conn: self._load_joined(conn, LATEST_READY, same_key),
                write=False,
                snapshot=False,
            )
            found = next(iter(latest.values()), None)
        if found is not None:
            if found.status is ObjectStatus.READY:
                return found
            raise ObjectPendingError(f"{bucket}/{key} is still being processed")
        raise ObjectNotFoundError(f"no object {key!r} in bucket {bucket!r}")

    def get_newest(self, bucket: str, key: str) -> ObjectRecord:
        stmt = (
            select(objects)
            .where(objects.c.bucket == bucket, objects.c.key == key)
            .order_by(objects.c.id.desc())
            .limit(1)
        )
        found = self._run(lambda conn: self._load(conn, stmt), write=False)
        if not found:
            raise ObjectNotFoundError(f"no object {key!r} in bucket {bucket!r}")
        return found[0]

    def list_objects(self, query: ListQuery) -> Page[ObjectRecord]:
        """Versions in (key, id) order. ``created_after`` is inclusive, ``created_before``
        exclusive. With ``latest_only``, a version is listed when no newer version of its
        key also matches the filters: with ``status=READY`` too, each key's newest ready
        version, however many newer versions are pending or failed (S3's listing)."""
        after = decode_cursor(query.cursor) if query.cursor else None
        if query.start_after is not None:
            _check_start_after(query.start_after)
        stmt = listing_statement(query, after)
        items = self._run(lambda conn: self._load(conn, stmt), write=False)
        next_cursor = None
        if len(items) > query.limit:
            items = items[: query.limit]
            next_cursor = encode_cursor(items[-1].key, items[-1].id)
        return RecordPage(items=items, next_cursor=next_cursor)

    def finalize_ready(
        self, object_id: str, *, digest: Digest, size: int, extracted: dict[str, Any]
    ) -> FinalizeResult:
        return self.finalize_ready_many([ReadyObject(object_id, digest, size, extracted)])[0]

    def finalize_ready_many(self, ready: Sequence[ReadyObject]) -> list[FinalizeResult]:
        if not ready:
            return []

        def finalize(conn: Connection) -> list[FinalizeResult]:
            ids = list(dict.fromkeys(item.object_id for item in ready))
            statuses = dict(
                conn.execute(
                    select(objects.c.id, objects.c.status)
                    .where(objects.c.id.in_(ids))
                    .order_by(objects.c.id)
                    .with_for_update()
                ).all()
            )
            # The first of each pending record is made ready; a record named again, or not
            # pending, is left as it is.
            first: dict[str, ReadyObject] = {}
            for item in ready:
                if statuses.get(item.object_id) == ObjectStatus.PENDING.value:
                    first.setdefault(item.object_id, item)
            created = self._take_references(conn, list(first.values()))
            if first:
                now = utcnow()
                conn.execute(
                    update(objects).where(objects.c.id == bindparam("ready_id")),
                    [
                        {
                            "ready_id": item.object_id,
                            "status": ObjectStatus.READY.value,
                            "digest": str(item.digest),
                            "size": item.size,
                            "extracted": json.dumps(item.extracted),
                            "error": None,
                            "failure_kind": None,
                            "updated_at": now,
                        }
                        for item in first.values()
                    ],
                )
            records = {
                record.id: record
                for record in self._load(conn, select(objects).where(objects.c.id.in_(ids)))
            }
            results = []
            for item in ready:
                chosen = first.get(item.object_id)
                new_blob = chosen is item and str(item.digest) in created
                if new_blob:
                    created.discard(str(item.digest))  # one object created it
                results.append(FinalizeResult(records.get(item.object_id), new_blob))
            return results

        results = self._run(finalize)
        for result in results:
            if result.record is not None:
                self._key_changed(result.record.bucket, result.record.key)
        return results

    def _take_references(self, conn: Connection, ready: Sequence[ReadyObject]) -> set[str]:
        """One reference to its blob for each of ``ready``, in one statement; the digests
        no reference held before, whose bytes a garbage collection may have deleted.

        Rows are taken in digest order, the same in every transaction, so two batches on
        the same blobs never wait on each other in a cycle. A row being collected is locked:
        the upsert waits, then finds it gone and inserts it anew.
        """
        wanted = Counter(str(item.digest) for item in ready)
        if not wanted:
            return set()
        sizes = {str(item.digest): item.size for item in ready}
        now = utcnow()
        insert = self._insert(blobs).values(
            [
                {"digest": digest, "size": sizes[digest], "refcount": count, "created_at": now}
                for digest, count in sorted(wanted.items())
            ]
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["digest"],
            set_={"refcount": blobs.c.refcount + insert.excluded.refcount},
        ).returning(blobs.c.digest, blobs.c.refcount)
        return {digest for digest, refcount in conn.execute(upsert) if refcount == wanted[digest]}

    def mark_failed(
        self, object_id: str, reason: str, *, kind: FailureKind = FailureKind.FINAL
    ) -> ObjectRecord | None:
        def fail(conn: Connection) -> ObjectRecord | None:
            conn.execute(
                update(objects)
                .where(objects.c.id == object_id, objects.c.status == ObjectStatus.PENDING.value)
                .values(
                    status=ObjectStatus.FAILED.value,
                    error=reason,
                    failure_kind=kind.value,
                    updated_at=utcnow(),
                )
            )
            return self._load_one(conn, object_id)

        return self._run(fail)

    def retriable_failures(self, *, limit: int = 100) -> list[ObjectRecord]:
        stmt = (
            select(objects)
            .where(
                objects.c.status == ObjectStatus.FAILED.value,
                objects.c.failure_kind == FailureKind.RETRIABLE.value,
            )
            .order_by(objects.c.updated_at, objects.c.id)
            .limit(limit)
        )
        return self._run(lambda conn: self._load(conn, stmt), write=False)

    def reopen_failed(self, object_id: str) -> ObjectRecord | None:
        def reopen(conn: Connection) -> ObjectRecord | None:
            conn.execute(
                update(objects)
                .where(
                    objects.c.id == object_id,
                    objects.c.status == ObjectStatus.FAILED.value,
                    objects.c.failure_kind == FailureKind.RETRIABLE.value,
                )
                .values(
                    status=ObjectStatus.PENDING.value,
                    error=None,
                    failure_kind=None,
                    updated_at=utcnow(),
                )
            )
            return self._load_one(conn, object_id)

        return self._run(reopen)

    def delete_objects(self, bucket: str, key: str, *, version: str | None = None) -> int:
        def remove(conn: Connection) -> int:
            stmt = select(objects.c.id, objects.c.status, objects.c.digest).where(
                objects.c.bucket == bucket, objects.c.key == key
            )
            if version is not None:
                stmt = stmt.where(objects.c.id == version)
            rows = conn.execute(stmt.order_by(objects.c.id).with_for_update()).all()
            if not rows:
                return 0
            drops = Counter(row.digest for row in rows if row.status == ObjectStatus.READY.value)
            # Sorted, so two deletes touching the same blobs lock them in the same order.
            for digest in sorted(drops):
                conn.execute(
                    update(blobs)
                    .where(blobs.c.digest == digest)
                    .values(refcount=blobs.c.refcount - drops[digest])
                )
            conn.execute(delete(objects).where(objects.c.id.in_([row.id for row in rows])))
            return len(rows)

        deleted = self._run(remove)
        if deleted:
            self._key_changed(bucket, key)
        return deleted

    def pending_before(self, cutoff: datetime, *, limit: int = 100) -> list[ObjectRecord]:
        stmt = (
            select(objects)
            .where(objects.c.status == ObjectStatus.PENDING.value, objects.c.updated_at < cutoff)
            .order_by(objects.c.updated_at, objects.c.id)
            .limit(limit)
        )
        return self._run(lambda conn: self._load(conn, stmt), write=False)

    def touch(self, object_id: str) -> None:
        """Bump ``updated_at``; a record deleted meanwhile is silently skipped."""
        self._run(
            lambda conn: conn.execute(
                update(objects).where(objects.c.id == object_id).values(updated_at=utcnow())
            )
        )


def _check_start_after(start_after: str) -> None:
    """Refuse a ``start_after`` no database can compare: keys are UTF-8 text without NUL."""
    try:
        start_after.encode("utf-8")
    except UnicodeError:
        raise InvalidRequestError("start_after must be valid UTF-8 text") from None
    if "\0" in start_after:
        raise InvalidRequestError("start_after must not contain NUL")
