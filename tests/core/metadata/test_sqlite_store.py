"""What only SQLite has to get right: processes opening one new database file together."""

from __future__ import annotations

from pathlib import Path

from sangraha_core.metadata.sql import SqlMetadataStore
from sangraha_core.testing.metadata import migrate_together


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
