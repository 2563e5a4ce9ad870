"""Metadata stores for the conformance suite: a SQLite file, or a PostgreSQL schema of its own.

Each test gets clean state: a new SQLite file, or a new PostgreSQL schema (selected through
``search_path``) in the run's database, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sangraha_core.metadata.sql import SqlMetadataStore

StoreFactory = Callable[[], SqlMetadataStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL naming an empty database (SQLite) or an empty schema (PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    import psycopg

    base: str = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def open_store(store_url: str) -> Iterator[StoreFactory]:
    """Open further stores on the same database, as other processes would; all closed after."""
    opened: list[SqlMetadataStore] = []

    def factory() -> SqlMetadataStore:
        store = SqlMetadataStore.from_url(store_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> SqlMetadataStore:
    """A migrated store on a fresh database."""
    s = open_store()
    s.migrate()
    return s
