"""The SQL database under every aggregate: engine set-up, transactions, and the schema's
upkeep.

One body of SQLAlchemy Core code runs on SQLite and PostgreSQL. Every write runs in one
transaction that first takes the locks it needs: PostgreSQL row locks (``FOR UPDATE``),
and on SQLite the database write lock, taken up front with ``BEGIN IMMEDIATE`` so two
writers never deadlock trying to upgrade a read lock.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction survives a
crash of the process (the WAL is in the operating system's hands once the commit
returns), but the last commits before a power loss or kernel crash may be lost. Pass
``?synchronous=FULL`` in the URL to trade write speed for durability against power loss.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Self, TypeVar

from sqlalchemy import create_engine, event, literal, select
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from .._exceptions import ConfigurationError, MetadataUnavailableError
from ._schema import upgrade
from ._sql_queries import LATEST_READY, CursorRead

__all__ = ["SqlDatabase"]

_T = TypeVar("_T")

#: Seconds a SQLite writer waits for the write lock before giving up.
_SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds to wait for a PostgreSQL connection before calling the database unreachable.
_PG_CONNECT_TIMEOUT = 5
#: PostgreSQL may abort one side of a deadlock or serialisation conflict; such a
#: transaction is safe to run again.
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_WRITE_ATTEMPTS = 5


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


class SqlDatabase:
    """An engine and the transaction runner every aggregate's methods go through.

    Each aggregate is a subclass adding its methods and no state of its own, so that
    ``SqlMetadataStore`` can be all of them over one engine.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._sqlite = self._dialect == "sqlite"
        # One in-memory SQLite connection is shared by every thread, so whole
        # transactions must take turns on it.
        memory = self._sqlite and engine.url.database in (None, "", ":memory:")
        self._serial: AbstractContextManager[Any] = threading.RLock() if memory else nullcontext()
        # Held here, not by the object records, so that no aggregate needs an __init__.
        self._key_listeners: list[Callable[[str, str], None]] = []
        # The cold read's lookup by key, on SQLite run on the pooled connection's own
        # cursor (see ``_fetch``); PostgreSQL keeps SQLAlchemy's execution.
        self._latest_by_cursor = (
            CursorRead.of(LATEST_READY, engine.dialect, ("bucket", "key")) if self._sqlite else None
        )

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> Self:
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

    def _fetch(self, read: CursorRead, values: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of one read-only statement, run on a pooled connection's own cursor.

        For SQLite, whose connections are in autocommit (see ``_sqlite_on_connect``): one
        statement reads one snapshot by itself, as ``_run(..., snapshot=False)`` does, and
        errors map to ``MetadataUnavailableError`` as they do there.
        """
        try:
            with self._serial:
                connection = self._engine.raw_connection()
                try:
                    cursor = connection.cursor()
                    try:
                        cursor.execute(read.sql, read.arguments(values))
                        rows: Sequence[Any] = cursor.fetchall()
                        return rows
                    finally:
                        cursor.close()
                finally:
                    connection.close()
        except (sqlite3.OperationalError, sqlite3.InterfaceError) as exc:
            raise MetadataUnavailableError(f"metadata database error: {exc}") from exc
        except (OperationalError, InterfaceError) as exc:
            # Opening a connection (a file that cannot be opened) fails through the pool.
            raise MetadataUnavailableError(f"metadata database error: {exc.orig}") from exc
        except PoolTimeoutError as exc:
            raise MetadataUnavailableError(f"no metadata database connection: {exc}") from exc

    def _insert(self, table: Any) -> pg.Insert | sqlite.Insert:
        """An INSERT of ``table`` in this engine's dialect, which has ``ON CONFLICT``."""
        return pg.insert(table) if self._dialect == "postgresql" else sqlite.insert(table)

    # -- the database itself ----------------------------------------------------------
    def migrate(self) -> None:
        self._run(upgrade)

    def check(self) -> None:
        self._run(lambda conn: conn.execute(select(literal(1))).scalar(), write=False)

    def close(self) -> None:
        self._engine.dispose()
