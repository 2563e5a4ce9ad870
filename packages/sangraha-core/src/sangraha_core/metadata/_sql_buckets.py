"""Buckets: one row a bucket, its kind policy; its totals are worked out from the records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.engine import Connection

from .._buckets import Bucket, BucketKinds, BucketSummary
from .._exceptions import BucketAlreadyExistsError, BucketNotEmptyError, BucketNotFoundError
from .._models import UploadStatus, utcnow
from .._names import validate_bucket
from ._schema import buckets, objects, uploads
from ._sql_database import SqlDatabase

__all__ = ["SqlBuckets"]


def _bucket_from_row(row: Row[Any]) -> Bucket:
    return Bucket(name=row.name, kinds=BucketKinds(row.kinds), created_at=row.created_at)


def _missing(name: str) -> BucketNotFoundError:
    return BucketNotFoundError(f"no bucket {name!r}")


class SqlBuckets(SqlDatabase):
    """The ``Buckets`` part of the store, on the ``buckets`` table."""

    @staticmethod
    def _load_bucket(conn: Connection, name: str, *, lock: bool = False) -> Bucket:
        stmt = select(buckets).where(buckets.c.name == name)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise _missing(name)
        return _bucket_from_row(row)

    def create_bucket(self, name: str, kinds: BucketKinds, *, exist_ok: bool = False) -> Bucket:
        validate_bucket(name)
        kinds = BucketKinds(kinds)
        # ON CONFLICT: two processes making one bucket at once both see it made, once.
        stmt = (
            self._insert(buckets)
            .values(name=name, kinds=kinds.value, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
            # What the insert made, not a row count, which drivers report differently here.
            .returning(buckets.c.name)
        )

        def create(conn: Connection) -> Bucket:
            made = conn.execute(stmt).first() is not None
            if not made and not exist_ok:
                raise BucketAlreadyExistsError(f"bucket {name!r} already exists")
            return self._load_bucket(conn, name)

        return self._run(create)

    def get_bucket(self, name: str) -> Bucket:
        return self._run(lambda conn: self._load_bucket(conn, name), write=False, snapshot=False)

    def list_buckets(self) -> list[BucketSummary]:
        totals = (
            select(
                objects.c.bucket,
                func.count(func.distinct(objects.c.key)).label("key_count"),
                func.sum(objects.c.size).label("byte_count"),
            )
            .group_by(objects.c.bucket)
            .subquery()
        )
        stmt = (
            select(
                buckets,
                func.coalesce(totals.c.key_count, 0).label("key_count"),
                func.coalesce(totals.c.byte_count, 0).label("byte_count"),
            )
            .select_from(buckets.outerjoin(totals, totals.c.bucket == buckets.c.name))
            .order_by(buckets.c.name)
        )
        rows = self._run(lambda conn: conn.execute(stmt).all(), write=False)
        return [
            BucketSummary(
                **_bucket_from_row(row).model_dump(),
                objects=int(row.key_count),
                bytes=int(row.byte_count),
            )
            for row in rows
        ]

    def list_buckets_without_totals(self) -> list[Bucket]:
        stmt = select(buckets).order_by(buckets.c.name)
        rows = self._run(lambda conn: conn.execute(stmt).all(), write=False)
        return [_bucket_from_row(row) for row in rows]

    def set_bucket_kinds(self, name: str, kinds: BucketKinds) -> Bucket:
        kinds = BucketKinds(kinds)

        def change(conn: Connection) -> Bucket:
            conn.execute(update(buckets).where(buckets.c.name == name).values(kinds=kinds.value))
            return self._load_bucket(conn, name)

        return self._run(change)

    def delete_bucket(self, name: str) -> None:
        def remove(conn: Connection) -> None:
            # The row lock keeps two deletes (or a delete and a policy change) in turn.
            self._load_bucket(conn, name, lock=True)
            version = conn.execute(
                select(objects.c.id).where(objects.c.bucket == name).limit(1)
            ).first()
            if version is not None:
                raise BucketNotEmptyError(f"bucket {name!r} still holds objects")
            session = conn.execute(
                select(uploads.c.id)
                .where(
                    uploads.c.bucket == name,
                    # A session being completed is about to make a version here.
                    uploads.c.status.in_([UploadStatus.OPEN.value, UploadStatus.COMPLETING.value]),
                    uploads.c.expires_at > utcnow(),
                )
                .limit(1)
            ).first()
            if session is not None:
                raise BucketNotEmptyError(f"bucket {name!r} has an upload in progress")
            conn.execute(delete(buckets).where(buckets.c.name == name))

        self._run(remove)
