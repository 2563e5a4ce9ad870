"""``SqlMetadataStore``: the metadata store on SQLite (embedded) and PostgreSQL (production).

One body of SQLAlchemy Core code runs on both engines. Every write runs in one
transaction that first takes the locks it needs: PostgreSQL row locks (``FOR UPDATE``),
and on SQLite the database write lock, taken up front with ``BEGIN IMMEDIATE`` so two
writers never deadlock trying to upgrade a read lock.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives a
crash of the process (the WAL is in the operating system's hands once the commit
returns), but the last commits before a power loss or kernel crash may be lost. Pass
``?synchronous=FULL`` in the URL to trade write speed for durability against power loss.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    bindparam,
    create_engine,
    delete,
    event,
    exists,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.selectable import Select

from .._digest import Digest
from .._exceptions import (
    BlobNotFoundError,
    ConfigurationError,
    InvalidRequestError,
    MetadataUnavailableError,
    ObjectNotFoundError,
    ObjectPendingError,
    UploadNotFoundError,
)
from .._models import (
    FailureKind,
    ListQuery,
    ObjectRecord,
    ObjectStatus,
    Page,
    PartRecord,
    UploadSession,
    UploadStatus,
    utcnow,
)
from ._protocol import FinalizeResult
from ._rows import (
    RecordPage,
    decode_cursor,
    encode_cursor,
    object_row,
    part_values,
    record_from_row,
    session_from_row,
    successor,
)
from ._schema import (
    blobs,
    idempotency_keys,
    object_metadata,
    objects,
    upgrade,
    upload_parts,
    uploads,
)

__all__ = ["SqlMetadataStore"]

_T = TypeVar("_T")

#: Seconds a SQLite writer waits for the write lock before giving up.
_SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds to wait for a PostgreSQL connection before calling the database unreachable.
_PG_CONNECT_TIMEOUT = 5
#: PostgreSQL may abort one side of a deadlock or serialisation conflict; such a
#: transaction is safe to run again.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_WRITE_ATTEMPTS = 5


#: Bulk inserts of at least this many records refresh the planner's statistics at once.
_ANALYZE_AFTER = 1000


def _with_metadata(chosen: Select[Any]) -> Select[Any]:
    """The rows of ``chosen`` (one record at most), each repeated once per metadata entry
    (``meta_name``, ``meta_value``; NULL when it has none): a record in one statement."""
    found = chosen.subquery("found")
    return select(
        found,
        object_metadata.c.name.label("meta_name"),
        object_metadata.c.value.label("meta_value"),
    ).select_from(found.outerjoin(object_metadata, object_metadata.c.object_id == found.c.id))


# Built once: building and coercing a statement costs more CPU than SQLite takes to run it,
# and reads by key or id are the hot path of every cold read. The newest ready version of
# a key, or else its newest pending one (which says "still processing" rather than "no
# such object"): one statement, so one snapshot without a transaction around it.
_LATEST_READY = _with_metadata(
    select(objects)
    .where(
        objects.c.bucket == bindparam("bucket"),
        objects.c.key == bindparam("key"),
        objects.c.status.in_([ObjectStatus.READY.value, ObjectStatus.PENDING.value]),
    )
    .order_by((objects.c.status == ObjectStatus.READY.value).desc(), objects.c.id.desc())
    .limit(1)
)
_BY_ID = _with_metadata(select(objects).where(objects.c.id == bindparam("object_id")))


def _sqlite_on_connect(synchronous: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN is turned off so ours (below) is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_TIMEOUT * 1000)}")
        _use_wal(cursor)
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return on_connect


def _use_wal(cursor: Any) -> None:
    # Turning a new database to WAL takes a lock SQLite does not wait for through
    # busy_timeout, so processes opening a fresh database together can see "database is
    # locked" here; it happens once per database file, and a short retry gets past it.
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    if mode:
        conn.exec_driver_sql(f"BEGIN {mode}")


class SqlMetadataStore:
    """The :class:`~sangraha_core.metadata.MetadataStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._sqlite = self._dialect == "sqlite"
        # One in-memory SQLite connection is shared by every thread, so whole
        # transactions must take turns on it.
        memory = self._sqlite and engine.url.database in (None, "", ":memory:")
        self._serial: AbstractContextManager[Any] = threading.RLock() if memory else nullcontext()
        self._key_listeners: list[Callable[[str, str], None]] = []

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> SqlMetadataStore:
        """Open ``sqlite:///abs/path.db``, ``sqlite://`` (in memory) or
        ``postgresql://user@host:port/db`` (psycopg 3). Nothing connects until first use."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigurationError(f"not a database URL: {url!r}") from exc
        backend = parsed.get_backend_name()
        if backend in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
            options: dict[str, Any] = {
                "pool_pre_ping": True,
                "pool_size": 10,
                "max_overflow": 20,
                "connect_args": {"connect_timeout": _PG_CONNECT_TIMEOUT},
            }
            engine = create_engine(parsed, **{**options, **engine_options})
        elif backend == "sqlite":
            synchronous = str(parsed.query.get("synchronous", "NORMAL")).upper()
            if synchronous not in ("NORMAL", "FULL", "EXTRA"):
                raise ConfigurationError(f"synchronous must be NORMAL, FULL or EXTRA in {url!r}")
            parsed = parsed.set(drivername="sqlite+pysqlite").difference_update_query(
                ["synchronous"]
            )
            connect_args = {"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT}
            if parsed.database in (None, "", ":memory:"):
                options = {"poolclass": StaticPool, "connect_args": connect_args}
            else:
                options = {"pool_size": 10, "max_overflow": 20, "connect_args": connect_args}
            engine = create_engine(parsed, **{**options, **engine_options})
            event.listen(engine, "connect", _sqlite_on_connect(synchronous))
            event.listen(engine, "begin", _sqlite_on_begin)
        else:
            raise ConfigurationError(
                f"unsupported metadata database {url!r}; use sqlite:/// or postgresql://"
            )
        return cls(engine)

    # -- transactions -----------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, write: bool, snapshot: bool = True) -> Iterator[Connection]:
        with self._serial, self._engine.connect() as conn:
            if write and self._sqlite:
                conn.execution_options(sqlite_begin="IMMEDIATE")
            elif not snapshot and self._sqlite:
                # One statement reads one snapshot by itself: no BEGIN, and the COMMIT
                # finds no transaction to end.
                conn.execution_options(sqlite_begin="")
            with conn.begin():
                yield conn

    def _run(
        self, fn: Callable[[Connection], _T], *, write: bool = True, snapshot: bool = True
    ) -> _T:
        """Run ``fn`` in one transaction; map lost or unreachable databases to
        ``MetadataUnavailableError`` and re-run a transaction PostgreSQL aborted to break a
        deadlock. ``snapshot=False`` is for a read of a single statement, which needs no
        transaction around it on SQLite."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._transaction(write=write, snapshot=snapshot) as conn:
                    return fn(conn)
            except (OperationalError, InterfaceError) as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate in _RETRY_SQLSTATES and attempt < _WRITE_ATTEMPTS:
                    continue
                raise MetadataUnavailableError(f"metadata database error: {exc.orig}") from exc
            except PoolTimeoutError as exc:
                raise MetadataUnavailableError(f"no metadata database connection: {exc}") from exc
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise MetadataUnavailableError(f"metadata connection lost: {exc.orig}") from exc
                raise

    def on_key_change(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(bucket, key)`` after each commit of this store that may change
        which version a key reads (a version made ready, a delete), so a cache in the same
        process can drop what it holds. Changes made by other processes are not seen."""
        self._key_listeners.append(callback)

    def _key_changed(self, bucket: str, key: str) -> None:
        for callback in self._key_listeners:
            callback(bucket, key)

    def _insert(self, table: Any) -> pg.Insert | sqlite.Insert:
        return pg.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    def migrate(self) -> None:
        self._run(upgrade)

    def check(self) -> None:
        self._run(lambda conn: conn.execute(select(literal(1))).scalar(), write=False)

    def close(self) -> None:
        self._engine.dispose()

    # -- object records -------------------------------------------------------------
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

    def create_object(self, record: ObjectRecord) -> None:
        self.create_objects([record])

    def create_objects(self, records: Sequence[ObjectRecord]) -> None:
        """Insert several records in one transaction: all of them, or none.

        One commit for many records, for bulk loads (the benchmarks seed listings with it).
        """
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

    @staticmethod
    def _load_joined(
        conn: Connection, stmt: Select[Any], params: dict[str, str]
    ) -> ObjectRecord | None:
        """The record a :func:`_with_metadata` statement finds, or ``None``."""
        rows = conn.execute(stmt, params).all()
        if not rows:
            return None
        meta = {row.meta_name: row.meta_value for row in rows if row.meta_name is not None}
        return record_from_row(rows[0], meta)

    def get_object(self, object_id: str) -> ObjectRecord:
        record = self._run(
            lambda conn: self._load_joined(conn, _BY_ID, {"object_id": object_id}),
            write=False,
            snapshot=False,
        )
        if record is None:
            raise ObjectNotFoundError(f"no object version with id {object_id!r}")
        return record

    def get_latest(self, bucket: str, key: str) -> ObjectRecord:
        same_key = {"bucket": bucket, "key": key}
        found = self._run(
            lambda conn: self._load_joined(conn, _LATEST_READY, same_key),
            write=False,
            snapshot=False,
        )
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

    def _filters(
        self, table: Any, query: ListQuery, pairs: Sequence[tuple[str, str]]
    ) -> list[ColumnElement[bool]]:
        """Conditions on one version other than its bucket, key and position."""
        conds: list[ColumnElement[bool]] = []
        if query.kind is not None:
            conds.append(table.c.kind == query.kind.value)
        if query.status is not None:
            conds.append(table.c.status == query.status.value)
        if query.created_after is not None:
            conds.append(table.c.created_at >= query.created_after)
        if query.created_before is not None:
            conds.append(table.c.created_at < query.created_before)
        for name, value in pairs:
            meta = object_metadata.alias()
            conds.append(
                exists().where(
                    meta.c.object_id == table.c.id, meta.c.name == name, meta.c.value == value
                )
            )
        return conds

    def list_objects(self, query: ListQuery) -> Page[ObjectRecord]:
        """Versions in (key, id) order. ``created_after`` is inclusive, ``created_before``
        exclusive. With ``latest_only``, a version is listed when no newer version of its
        key also matches the filters."""
        after = decode_cursor(query.cursor) if query.cursor else None
        o = objects
        pairs = sorted(query.metadata.items())
        stmt: Select[Any]
        if pairs:
            # Walk the first pair's index entries, which are in listing order; the other
            # filters are checked per entry.
            lead = object_metadata.alias("lead")
            stmt = select(o).select_from(lead.join(o, o.c.id == lead.c.object_id))
            order_key, order_id = lead.c.key, lead.c.object_id
            conds = [
                lead.c.name == pairs[0][0],
                lead.c.value == pairs[0][1],
                lead.c.bucket == query.bucket,
                *self._filters(o, query, pairs[1:]),
            ]
        else:
            stmt = select(o)
            order_key, order_id = o.c.key, o.c.id
            conds = [o.c.bucket == query.bucket, *self._filters(o, query, ())]
        if query.prefix:
            # A key range instead of LIKE: no wildcard escaping, and an index range scan.
            conds.append(order_key >= query.prefix)
            upper = successor(query.prefix)
            if upper is not None:
                conds.append(order_key < upper)
        if query.latest_only:
            newer = objects.alias("newer")
            conds.append(
                ~exists().where(
                    newer.c.bucket == o.c.bucket,
                    newer.c.key == o.c.key,
                    newer.c.id > o.c.id,
                    *self._filters(newer, query, pairs),
                )
            )
        if after is not None:
            conds.append(tuple_(order_key, order_id) > tuple_(literal(after[0]), literal(after[1])))
        stmt = stmt.where(*conds).order_by(order_key, order_id).limit(query.limit + 1)
        items = self._run(lambda conn: self._load(conn, stmt), write=False)
        next_cursor = None
        if len(items) > query.limit:
            items = items[: query.limit]
            next_cursor = encode_cursor(items[-1].key, items[-1].id)
        return RecordPage(items=items, next_cursor=next_cursor)

    def finalize_ready(
        self, object_id: str, *, digest: Digest, size: int, extracted: dict[str, Any]
    ) -> FinalizeResult:
        def finalize(conn: Connection) -> FinalizeResult:
            status = conn.execute(
                select(objects.c.status).where(objects.c.id == object_id).with_for_update()
            ).scalar()
            if status is None:
                return FinalizeResult(None, False)
            if status != ObjectStatus.PENDING.value:
                return FinalizeResult(self._load_one(conn, object_id), False)
            created = self._take_reference(conn, digest, size)
            conn.execute(
                update(objects)
                .where(objects.c.id == object_id)
                .values(
                    status=ObjectStatus.READY.value,
                    digest=str(digest),
                    size=size,
                    extracted=json.dumps(extracted),
                    error=None,
                    failure_kind=None,
                    updated_at=utcnow(),
                )
            )
            return FinalizeResult(self._load_one(conn, object_id), created)

        result = self._run(finalize)
        if result.record is not None:
            self._key_changed(result.record.bucket, result.record.key)
        return result

    def _take_reference(self, conn: Connection, digest: Digest, size: int) -> bool:
        """Add one reference to ``digest``; True when its row had to be created."""
        while True:
            # A row being collected is locked: this waits, then matches nothing.
            bumped = conn.execute(
                update(blobs)
                .where(blobs.c.digest == str(digest))
                .values(refcount=blobs.c.refcount + 1)
            )
            if bumped.rowcount:
                return False
            # RETURNING, not rowcount: psycopg reports a row for an insert that waited on
            # a concurrent one and then did nothing.
            inserted = conn.execute(
                self._insert(blobs)
                .values(digest=str(digest), size=size, refcount=1, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["digest"])
                .returning(blobs.c.digest)
            ).first()
            if inserted is not None:
                return True
            # Another transaction created the row in between; take a reference on it.

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

    # -- blob references --------------------------------------------------------------
    def blob_refcount(self, digest: Digest) -> int:
        count = self._run(
            lambda conn: conn.execute(
                select(blobs.c.refcount).where(blobs.c.digest == str(digest))
            ).scalar(),
            write=False,
        )
        return int(count or 0)

    def collect_garbage(self, delete_blob: Callable[[Digest], None], *, limit: int = 100) -> int:
        """Collect unreferenced blobs one transaction each, so the lock that keeps a
        concurrent ``finalize_ready`` waiting is held for one ``delete_blob`` at a time."""

        def collect_one(conn: Connection) -> bool:
            digest = conn.execute(
                select(blobs.c.digest)
                .where(blobs.c.refcount == 0)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar()
            if digest is None:
                return False
            # Bytes already gone leave only the row to remove.
            with suppress(BlobNotFoundError):
                delete_blob(Digest(digest))
            conn.execute(delete(blobs).where(blobs.c.digest == digest, blobs.c.refcount == 0))
            return True

        collected = 0
        while collected < limit and self._run(collect_one):
            collected += 1
        return collected

    # -- idempotency keys -------------------------------------------------------------
    def remember_idempotency_key(
        self, scope: str, key: str, fingerprint: str, object_id: str
    ) -> str:
        def remember(conn: Connection) -> tuple[str, str]:
            conn.execute(
                self._insert(idempotency_keys)
                .values(
                    scope=scope,
                    key=key,
                    fingerprint=fingerprint,
                    object_id=object_id,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["scope", "key"])
            )
            row = conn.execute(
                select(idempotency_keys.c.fingerprint, idempotency_keys.c.object_id).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            ).one()
            return row.fingerprint, row.object_id

        stored_fingerprint, stored_id = self._run(remember)
        if stored_fingerprint != fingerprint:
            raise InvalidRequestError(
                f"idempotency key {key!r} was already used for a different request"
            )
        return stored_id

    def lookup_idempotency_key(self, scope: str, key: str) -> tuple[str, str] | None:
        row = self._run(
            lambda conn: conn.execute(
                select(idempotency_keys.c.fingerprint, idempotency_keys.c.object_id).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            ).first(),
            write=False,
        )
        return None if row is None else (row.fingerprint, row.object_id)

    # -- upload sessions --------------------------------------------------------------
    def create_upload(self, session: UploadSession) -> None:
        def create(conn: Connection) -> None:
            conn.execute(
                uploads.insert().values(
                    id=session.id,
                    bucket=session.bucket,
                    key=session.key,
                    content_type=session.content_type,
                    kind=session.kind.value,
                    size=session.size,
                    digest=None if session.digest is None else str(session.digest),
                    metadata=json.dumps(session.metadata),
                    status=session.status.value,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                    min_part_size=session.min_part_size,
                    max_part_size=session.max_part_size,
                    max_parts=session.max_parts,
                    object_id=session.object_id,
                    multipart_id=session.multipart_id,
                )
            )
            if session.parts:
                conn.execute(
                    upload_parts.insert(),
                    [part_values(session.id, part) for part in session.parts],
                )

        try:
            self._run(create)
        except IntegrityError as exc:
            raise InvalidRequestError(
                f"an upload session with id {session.id!r} already exists"
            ) from exc

    def _load_uploads(self, conn: Connection, stmt: Select[Any]) -> list[UploadSession]:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        parts: dict[str, list[PartRecord]] = {row.id: [] for row in rows}
        for part in conn.execute(
            select(upload_parts)
            .where(upload_parts.c.upload_id.in_(list(parts)))
            .order_by(upload_parts.c.upload_id, upload_parts.c.number)
        ):
            parts[part.upload_id].append(
                PartRecord(
                    number=part.number, size=part.size, etag=part.etag, digest=Digest(part.digest)
                )
            )
        return [session_from_row(row, parts[row.id]) for row in rows]

    def get_upload(self, upload_id: str) -> UploadSession:
        found = self._run(
            lambda conn: self._load_uploads(conn, select(uploads).where(uploads.c.id == upload_id)),
            write=False,
        )
        if not found:
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}")
        return found[0]

    def put_part(self, upload_id: str, part: PartRecord) -> None:
        values = part_values(upload_id, part)
        stmt = (
            self._insert(upload_parts)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["upload_id", "number"],
                set_={name: values[name] for name in ("size", "etag", "digest")},
            )
        )
        try:
            self._run(lambda conn: conn.execute(stmt))
        except IntegrityError as exc:  # the session's row is gone (foreign key)
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}") from exc

    def finish_upload(self, upload_id: str, *, status: str, object_id: str | None) -> None:
        try:
            new_status = UploadStatus(status)
        except ValueError:
            raise InvalidRequestError(f"unknown upload status {status!r}") from None
        if new_status is UploadStatus.OPEN:
            raise InvalidRequestError("finish_upload needs 'completed' or 'aborted'")
        result = self._run(
            lambda conn: conn.execute(
                update(uploads)
                .where(uploads.c.id == upload_id)
                .values(status=new_status.value, object_id=object_id)
            )
        )
        if not result.rowcount:
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}")

    def expired_uploads(self, now: datetime, *, limit: int = 100) -> list[UploadSession]:
        """Sessions of any status whose ``expires_at`` is at or before ``now``, soonest
        expired first: open ones are to be aborted, and all of them deleted."""
        stmt = (
            select(uploads)
            .where(uploads.c.expires_at <= now)
            .order_by(uploads.c.expires_at, uploads.c.id)
            .limit(limit)
        )
        return self._run(lambda conn: self._load_uploads(conn, stmt), write=False)

    def delete_upload(self, upload_id: str) -> None:
        """Delete a session and its parts; deleting an unknown session does nothing."""
        self._run(lambda conn: conn.execute(delete(uploads).where(uploads.c.id == upload_id)))
