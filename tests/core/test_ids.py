"""Version ids: UUIDv7, unique, and in creation order even within one millisecond."""

from __future__ import annotations

import threading
import uuid

from sangraha_core import new_id


def test_ids_made_back_to_back_sort_in_creation_order() -> None:
    # Thousands of ids share each millisecond here: order must come from more than the clock.
    ids = [new_id() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_uuid7() -> None:
    value = uuid.UUID(new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_ids_from_many_threads_never_collide() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in made for i in out]
    assert len(set(every)) == len(every)
    assert all(out == sorted(out) for out in made)
