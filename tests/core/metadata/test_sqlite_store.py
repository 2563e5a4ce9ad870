"""What only SQLite has to get right: processes opening one new database file together, and
the lookup by key that runs on a DB-API cursor of its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sangraha_core import (
    FailureKind,
    MetadataUnavailableError,
    ObjectKind,
    ObjectNotFoundError,
    ObjectPendingError,
    ObjectRecord,
    ObjectStatus,
)
from sangraha_core.metadata._sql_queries import LATEST_READY
from sangraha_core.metadata.sql import SqlMetadataStore
from sangraha_core.testing.metadata import DIGEST_A, add, migrate_together, ready


def test_stores_opening_a_new_database_together_all_migrate(tmp_path: Path) -> None:
    # Switching a new file to WAL takes a lock busy_timeout does not wait for: before the
    # retry, about one round in twenty lost a store to "database is locked".
    for round_ in range(30):
        url = f"sqlite:///{tmp_path / f'round-{round_}.db'}"
        stores = [SqlMetadataStore.from_url(url) for _ in range(3)]
        try:
            errors = migrate_together(stores)
        finally:
            for store in stores:
                store.close()
        assert errors == [], f"round {round_}: {errors}"


def _through_sqlalchemy(store: SqlMetadataStore, bucket: str, key: str) -> ObjectRecord | None:
    # The statement as SQLAlchemy runs it, which ``get_latest`` on SQLite bypasses.
    found = store._run(
        lambda conn: store._load_joined(conn, LATEST_READY, {"bucket": bucket, "key": key}),
        write=False,
        snapshot=False,
    )
    return next(iter(found.values()), None)


def _seed_varied(store: SqlMetadataStore) -> list[str]:
    """Keys whose latest versions differ in every field a record has; their names."""
    keys: list[str] = []
    for n in range(120):
        key = f"k/{n}/{'ü' * (n % 3)}é.json" if n % 5 == 0 else f"key-{n}"
        keys.append(key)
        meta = {f"m{i}": f"v{n}-{i} ✓" for i in range(n % 4)}
        for version in range(1 + n % 3):
            record = add(
                store,
                key,
                status=ObjectStatus.PENDING,
                kind=list(ObjectKind)[n % len(ObjectKind)],
                metadata=meta if version == 0 else {},
                etag=None if n % 2 else f"etag-{n}-{version}",
                created_at=datetime(2026, 1, 1 + n % 28, n % 24, 1, 2, n * 1000, tzinfo=UTC),
            )
            outcome = (n + version) % 4
            if outcome == 0:
                ready(store, record)
            elif outcome == 1:
                store.finalize_ready(
                    record.id,
                    digest=DIGEST_A,
                    size=n,
                    extracted={"width": n, "nested": {"list": [1, "two", None]}, "s": "ä"},
                )
            elif outcome == 2:
                store.mark_failed(record.id, f"bad {n}", kind=list(FailureKind)[n % 2])
    return keys


def test_get_latest_reads_what_sqlalchemy_reads(tmp_path: Path) -> None:
    store = SqlMetadataStore.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    store.migrate()
    try:
        keys = _seed_varied(store)
        seen = {"ready": 0, "pending": 0, "none": 0}
        for key in [*keys, "never-stored"]:
            expected = _through_sqlalchemy(store, "bucket-one", key)
            if expected is None:
                seen["none"] += 1
                with pytest.raises(ObjectNotFoundError) as error:
                    store.get_latest("bucket-one", key)
                assert not isinstance(error.value, ObjectPendingError)
                continue
            if expected.status is ObjectStatus.PENDING:
                seen["pending"] += 1
                with pytest.raises(ObjectPendingError):
                    store.get_latest("bucket-one", key)
                continue
            seen["ready"] += 1
            found = store.get_latest("bucket-one", key)
            assert found == expected
            for name in ObjectRecord.model_fields:
                got, want = getattr(found, name), getattr(expected, name)
                assert type(got) is type(want), name
                assert got == want, name
            assert found.created_at.tzinfo is not None and found.updated_at.tzinfo is not None
            assert found.model_dump_json() == expected.model_dump_json()
        # Every kind of answer was compared, not only one.
        assert all(seen.values()), seen
    finally:
        store.close()


def test_get_latest_of_an_unreachable_database_raises_unavailable(tmp_path: Path) -> None:
    store = SqlMetadataStore.from_url(f"sqlite:///{tmp_path / 'missing-dir' / 'm.db'}")
    try:
        with pytest.raises(MetadataUnavailableError):
            store.get_latest("bucket-one", "a")
    finally:
        store.close()


def test_get_latest_in_memory_from_many_threads() -> None:
    # One connection shared by every thread (StaticPool): the cursor read takes turns too.
    store = SqlMetadataStore.from_url("sqlite://")
    store.migrate()
    try:
        records = [add(store, f"key-{n}", status=ObjectStatus.PENDING) for n in range(40)]
        for record in records:
            ready(store, record)

        def read(n: int) -> str:
            return store.get_latest("bucket-one", f"key-{n % 40}").id

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(read, range(400)))
        assert ids == [records[n % 40].id for n in range(400)]
    finally:
        store.close()
