"""Helpers the metadata tests share."""

from __future__ import annotations

import threading

from sangraha_core.metadata.sql import SqlMetadataStore


def migrate_together(stores: list[SqlMetadataStore]) -> list[BaseException]:
    """Migrate every store at the same moment, each from a thread: what they raised."""
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: SqlMetadataStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
