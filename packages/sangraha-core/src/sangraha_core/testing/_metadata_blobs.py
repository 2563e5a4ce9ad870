"""Blob references in the metadata store suite: counting, collecting, and the race with workers."""

from __future__ import annotations

import queue
import threading

import pytest

from sangraha_core import Digest, ObjectStatus
from sangraha_core.metadata import MetadataStore, ReadyObject

from ._metadata_support import DIGEST_A, DIGEST_B, add, list_all, ready

__all__ = ["BlobReferencesConformance"]


class BlobReferencesConformance:
    """``blob_refcount`` and ``collect_garbage``, alone and against concurrent workers.
    Part of ``MetadataStoreConformance``; the subclass gives the ``store`` fixture."""

    def test_collect_garbage(self, store: MetadataStore) -> None:
        keep, drop = add(store, "keep"), add(store, "drop")
        ready(store, keep, DIGEST_A)
        ready(store, drop, DIGEST_B)
        deleted: list[Digest] = []
        assert store.collect_garbage(deleted.append) == 0
        store.delete_objects("bucket-one", "drop")
        assert store.blob_refcount(DIGEST_B) == 0
        assert store.collect_garbage(deleted.append) == 1
        assert deleted == [DIGEST_B]
        assert store.collect_garbage(deleted.append) == 0
        again = add(store, "again")
        result = store.finalize_ready(again.id, digest=DIGEST_B, size=1, extracted={})
        assert result.blob_created is True

    def test_collect_garbage_keeps_the_row_when_delete_fails(self, store: MetadataStore) -> None:
        record = add(store)
        ready(store, record, DIGEST_A)
        store.delete_objects("bucket-one", record.key)

        def broken(digest: Digest) -> None:
            raise OSError("blob store down")

        with pytest.raises(OSError):
            store.collect_garbage(broken)
        # The row is still there for the next collection to try again.
        deleted: list[Digest] = []
        assert store.collect_garbage(deleted.append) == 1
        assert deleted == [DIGEST_A]

    def test_a_reference_to_an_unreferenced_row_says_to_check_the_bytes(
        self, store: MetadataStore
    ) -> None:
        record = add(store)
        ready(store, record, DIGEST_A)
        store.delete_objects("bucket-one", record.key)
        assert store.blob_refcount(DIGEST_A) == 0
        # A collection may have reached the bytes, or not yet: the caller checks.
        revived = add(store)
        result = store.finalize_ready(revived.id, digest=DIGEST_A, size=1, extracted={})
        assert result.blob_created is True
        assert store.blob_refcount(DIGEST_A) == 1
        other = add(store)
        result = store.finalize_ready(other.id, digest=DIGEST_A, size=1, extracted={})
        assert result.blob_created is False
        assert store.blob_refcount(DIGEST_A) == 2

    def test_collect_garbage_respects_limit(self, store: MetadataStore) -> None:
        for i in range(3):
            record = add(store, f"k{i}")
            ready(store, record, Digest.of(str(i).encode()))
            store.delete_objects("bucket-one", record.key)
        deleted: list[Digest] = []
        assert store.collect_garbage(deleted.append, limit=2) == 2
        assert store.collect_garbage(deleted.append, limit=2) == 1
        assert len(set(deleted)) == 3

    def test_concurrent_batches_on_shared_blobs(self, store: MetadataStore) -> None:
        """Batches naming the same blobs in opposite orders, at once: none deadlocks, and
        every reference is counted once."""
        digests = [Digest.of(f"shared-{n}".encode()) for n in range(4)]
        threads, rounds = 4, 5
        errors: list[str] = []
        start = threading.Barrier(threads)

        def run(n: int) -> None:
            try:
                start.wait(timeout=10)
                for i in range(rounds):
                    order = digests if n % 2 else digests[::-1]
                    batch = [
                        ReadyObject(add(store, f"batch/{n}/{i}/{j}").id, digest, 1, {})
                        for j, digest in enumerate(order)
                    ]
                    results = store.finalize_ready_many(batch)
                    if not all(r.record and r.record.status is ObjectStatus.READY for r in results):
                        errors.append(f"thread {n}: not every record made ready")
            except BaseException as exc:
                errors.append(repr(exc))

        workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=60)
        assert errors == []
        assert [store.blob_refcount(d) for d in digests] == [threads * rounds] * len(digests)

    def test_finalize_collect_delete_race(self, store: MetadataStore) -> None:
        """Workers finalise records sharing one digest while others delete and collect.

        The blob store is a dict under a lock. A worker writes the bytes before it finalises
        and again when told the row was (re)created; a version is handed to the deleter only
        after its worker checked the bytes, and the deleter forgets its reference before
        deleting. So whenever ``delete_blob`` runs, no reference may be known to the model.
        """
        digest = Digest.of(b"shared bytes")
        lock = threading.Lock()
        stored: set[Digest] = set()
        known_refs = 0
        violations: list[str] = []
        deletable: queue.Queue[tuple[str, threading.Event] | None] = queue.Queue()
        stop = threading.Event()
        workers, rounds = 4, 25

        def delete_blob(d: Digest) -> None:
            with lock:
                if known_refs:
                    violations.append(f"bytes deleted while {known_refs} references were held")
                stored.discard(d)

        def worker(n: int) -> None:
            nonlocal known_refs
            try:
                for i in range(rounds):
                    record = add(store, f"race/{n}/{i}")
                    with lock:
                        stored.add(digest)
                    result = store.finalize_ready(record.id, digest=digest, size=12, extracted={})
                    with lock:
                        if result.blob_created:
                            stored.add(digest)
                        elif digest not in stored:
                            violations.append(
                                "finalize said the blob existed but its bytes were gone"
                            )
                        known_refs += 1
                    # All but the last version are deleted, and a worker waits for that before its
                    # next round, so the count keeps falling to 0 while others take references.
                    if i < rounds - 1:
                        gone = threading.Event()
                        deletable.put((record.id, gone))
                        gone.wait(timeout=10)
            except BaseException as exc:
                violations.append(repr(exc))

        def deleter() -> None:
            nonlocal known_refs
            try:
                while not stop.is_set() or not deletable.empty():
                    try:
                        item = deletable.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if item is None:
                        continue
                    object_id, gone = item
                    key = store.get_object(object_id).key
                    with lock:
                        known_refs -= 1
                    assert store.delete_objects("bucket-one", key, version=object_id) == 1
                    gone.set()
            except BaseException as exc:
                violations.append(repr(exc))

        def collector() -> None:
            try:
                while not stop.is_set():
                    store.collect_garbage(delete_blob)
                    if store.blob_refcount(digest) < 0:
                        violations.append("negative reference count")
            except BaseException as exc:
                violations.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
        helpers = [threading.Thread(target=deleter), threading.Thread(target=collector)]
        for t in threads + helpers:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        for t in helpers:
            t.join()
        assert violations == []
        remaining = [r for r in list_all(store, prefix="race/") if r.status is ObjectStatus.READY]
        assert len(remaining) == workers
        assert store.blob_refcount(digest) == len(remaining) == known_refs
        assert digest in stored
        store.delete_objects("bucket-one", remaining[0].key)
        for record in remaining[1:]:
            store.delete_objects("bucket-one", record.key)
        assert store.collect_garbage(delete_blob) == 1
        assert digest not in stored
