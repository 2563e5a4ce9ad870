"""The shipped metadata store suite on SQLite and on PostgreSQL, and what only the SQL store
promises besides: its schema versions, and the migration of older databases."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from sangraha_core import FailureKind, ObjectStatus
from sangraha_core.metadata import MetadataStore
from sangraha_core.metadata._rows import object_row
from sangraha_core.metadata._schema import MIGRATIONS, objects, schema_version, upgrade
from sangraha_core.metadata.sql import SqlMetadataStore
from sangraha_core.testing import AccessKeysConformance, MetadataStoreConformance
from sangraha_core.testing.metadata import (
    add,
    list_all,
    make_record,
    make_session,
    migrate_together,
)


def versions(store: SqlMetadataStore) -> list[int]:
    with store._engine.connect() as conn:
        return list(conn.execute(select(schema_version.c.version)).scalars())


class _OnSql(MetadataStoreConformance, AccessKeysConformance):
    """The suites on the database the subclass's ``store_url`` fixture names."""

    url: str

    @pytest.fixture
    def keys(self, store: SqlMetadataStore) -> SqlMetadataStore:
        return store

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[SqlMetadataStore]:
        self.url = store_url
        store = SqlMetadataStore.from_url(store_url)
        try:
            store.migrate()
            yield store
        finally:
            store.close()

    def open_peer(self, store: MetadataStore) -> SqlMetadataStore:
        return SqlMetadataStore.from_url(self.url)

    def test_migrate_records_every_schema_version(self, store: SqlMetadataStore) -> None:
        store.migrate()
        assert versions(store) == [m.version for m in MIGRATIONS]

    def test_migrate_concurrently_from_scratch(self, store_url: str) -> None:
        stores = [SqlMetadataStore.from_url(store_url) for _ in range(3)]
        try:
            assert migrate_together(stores) == []
            assert versions(stores[0]) == [m.version for m in MIGRATIONS]
            add(stores[1])
            assert len(list_all(stores[2])) == 1
        finally:
            for store in stores:
                store.close()

    def test_migration_2_classifies_the_failures_of_a_version_1_database(
        self, store_url: str
    ) -> None:
        store = SqlMetadataStore.from_url(store_url)
        try:
            # A database as version 1 left it: no failure_kind column.
            store._run(lambda conn: upgrade(conn, MIGRATIONS[:1]))
            store._run(
                lambda conn: conn.execute(text("ALTER TABLE objects DROP COLUMN failure_kind"))
            )
            gave_up = make_record("gave-up", status=ObjectStatus.FAILED)
            invalid = make_record("invalid", status=ObjectStatus.FAILED)
            waiting = make_record("waiting")
            rows = []
            for record, error in (
                (gave_up, "gave up after 5 attempts: X()"),
                (invalid, "not JSON"),
            ):
                rows.append({**object_row(record), "error": error})
            rows.append(object_row(waiting))
            for row in rows:
                del row["failure_kind"]
            store._run(lambda conn: conn.execute(objects.insert(), rows))

            store.migrate()

            assert versions(store) == [m.version for m in MIGRATIONS]
            assert store.get_object(gave_up.id).failure_kind is FailureKind.RETRIABLE
            assert store.get_object(invalid.id).failure_kind is FailureKind.FINAL
            assert store.get_object(waiting.id).failure_kind is None
            assert [r.id for r in store.retriable_failures()] == [gave_up.id]
        finally:
            store.close()

    def test_migration_5_keeps_the_sessions_of_a_version_4_database_typed(
        self, store_url: str
    ) -> None:
        store = SqlMetadataStore.from_url(store_url)
        try:
            # A database as version 4 left it, with a session: no type_from_bytes column.
            store._run(lambda conn: upgrade(conn, MIGRATIONS[:4]))
            typed = make_session()
            store.create_upload(typed)
            store._run(
                lambda conn: conn.execute(text("ALTER TABLE uploads DROP COLUMN type_from_bytes"))
            )

            store.migrate()

            assert versions(store) == [m.version for m in MIGRATIONS]
            assert not store.get_upload(typed.id).type_from_bytes
            untyped = make_session().model_copy(update={"type_from_bytes": True})
            store.create_upload(untyped)
            assert store.get_upload(untyped.id).type_from_bytes
        finally:
            store.close()

    def test_migration_7_indexes_the_sessions_of_a_version_6_database(self, store_url: str) -> None:
        store = SqlMetadataStore.from_url(store_url)
        try:
            # A database as version 6 left it: its sessions listed by scanning them all.
            store._run(lambda conn: upgrade(conn, MIGRATIONS[:6]))
            store._run(lambda conn: conn.execute(text("DROP INDEX ix_uploads_listing")))
            for _ in range(3):
                store.create_upload(make_session())

            store.migrate()

            assert versions(store) == [m.version for m in MIGRATIONS]
            assert "ix_uploads_listing" in self._listing_plan(store)
            assert len(store.list_uploads(make_session().bucket)) == 3
        finally:
            store.close()

    @staticmethod
    def _listing_plan(store: SqlMetadataStore) -> str:
        """How the database runs a bucket's session listing."""
        with store._engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if not sqlite:
                # A table this small is scanned whatever its indexes: ask what else there is.
                conn.execute(text("SET enable_seqscan = off"))
            explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
            rows = conn.execute(
                text(
                    f"{explain} SELECT * FROM uploads WHERE bucket = 'b' AND status = 'open'"
                    " ORDER BY key, id LIMIT 1000"
                )
            ).all()
        return "\n".join(str(row) for row in rows)


class TestSqliteMetadataStore(_OnSql):
    directory: Path

    @pytest.fixture
    def store_url(self, sqlite_url: str, tmp_path: Path) -> str:
        self.directory = tmp_path
        return sqlite_url

    def unreachable_store(self) -> SqlMetadataStore:
        return SqlMetadataStore.from_url(f"sqlite:///{self.directory}/missing-dir/metadata.db")


@pytest.mark.postgres
class TestPostgresMetadataStore(_OnSql):
    @pytest.fixture
    def store_url(self, postgres_schema_url: str) -> str:
        return postgres_schema_url

    def unreachable_store(self) -> SqlMetadataStore:
        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return SqlMetadataStore.from_url(f"postgresql://postgres@127.0.0.1:{port}/test")


def test_in_memory_sqlite_from_many_threads() -> None:
    store = SqlMetadataStore.from_url("sqlite://")
    store.migrate()
    try:
        threads = [
            threading.Thread(target=lambda n=n: [add(store, f"m{n}/{i}") for i in range(10)])
            for n in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with store._engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(objects)).scalar() == 40
    finally:
        store.close()
