"""Object records in the metadata store suite: versions, their states, deletion, the reconciler."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sangraha_core import (
    FailureKind,
    InvalidRequestError,
    ListQuery,
    ObjectNotFoundError,
    ObjectPendingError,
    ObjectStatus,
    new_id,
    utcnow,
)
from sangraha_core.metadata import MetadataStore, ReadyObject

from ._metadata_support import DIGEST_A, DIGEST_B, add, ready

__all__ = ["RecordsConformance"]


class RecordsConformance:
    """Creating, reading, finalising, failing, reopening and deleting records. Part of
    ``MetadataStoreConformance``; the subclass gives the ``store`` fixture."""

    def test_create_and_get_round_trip(self, store: MetadataStore) -> None:
        created = datetime(
            2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
        )
        record = add(store, metadata={"team": "blue", "owner": "ana"}, created_at=created)
        got = store.get_object(record.id)
        assert got == record
        assert got.created_at.tzinfo is not None
        assert got.created_at.utcoffset() == timedelta(0)
        assert got.created_at == created

    def test_the_s3_etag_is_kept_through_every_state(self, store: MetadataStore) -> None:
        etag = "9e107d9d372bb6826bd81d3542a419d6"
        record = add(store, "k", etag=etag)
        assert store.get_object(record.id).etag == etag
        ready(store, record)
        assert store.get_latest("bucket-one", "k").etag == etag
        failed = add(store, "f", etag=f"{etag}-3")
        assert store.mark_failed(failed.id, "bad", kind=FailureKind.RETRIABLE) is not None
        assert store.get_object(failed.id).etag == f"{etag}-3"
        reopened = store.reopen_failed(failed.id)
        assert reopened is not None and reopened.etag == f"{etag}-3"
        plain = add(store, "p")
        assert store.get_object(plain.id).etag is None
        listed = {r.key: r.etag for r in store.list_objects(ListQuery(bucket="bucket-one")).items}
        assert listed == {"f": f"{etag}-3", "k": etag, "p": None}

    def test_duplicate_id_is_rejected(self, store: MetadataStore) -> None:
        record = add(store)
        with pytest.raises(InvalidRequestError, match="already exists"):
            store.create_object(record)

    def test_get_unknown_object(self, store: MetadataStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            store.get_object(new_id())

    def test_get_objects_reads_many_versions_at_once(self, store: MetadataStore) -> None:
        tagged = add(store, "a", metadata={"team": "blue", "owner": "ana"})
        plain = add(store, "b")
        done = add(store, "c")
        ready(store, done)
        missing = new_id()
        found = store.get_objects([plain.id, missing, tagged.id, done.id, plain.id])
        assert found == {r.id: store.get_object(r.id) for r in (tagged, plain, done)}
        assert found[tagged.id].metadata == {"team": "blue", "owner": "ana"}
        assert found[done.id].status is ObjectStatus.READY
        assert store.get_objects([]) == {}
        assert store.get_objects([missing]) == {}

    def test_get_latest(self, store: MetadataStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            store.get_latest("bucket-one", "k")
        first = add(store, "k")
        with pytest.raises(ObjectPendingError):
            store.get_latest("bucket-one", "k")
        ready(store, first)
        second = add(store, "k")
        ready(store, second)
        add(store, "k")  # a newer version still pending does not hide the ready one
        assert store.get_latest("bucket-one", "k").id == second.id
        assert store.get_latest("bucket-one", "k").status is ObjectStatus.READY
        with pytest.raises(ObjectNotFoundError):
            store.get_latest("bucket-two", "k")

    def test_get_newest(self, store: MetadataStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            store.get_newest("bucket-one", "k")
        first = add(store, "k")
        ready(store, first)
        second = add(store, "k")
        assert store.get_newest("bucket-one", "k").id == second.id
        store.mark_failed(second.id, "bad")
        assert store.get_newest("bucket-one", "k").status is ObjectStatus.FAILED
        with pytest.raises(ObjectNotFoundError):
            store.get_newest("bucket-one", "other")

    def test_get_latest_when_every_version_failed(self, store: MetadataStore) -> None:
        record = add(store, "k")
        store.mark_failed(record.id, "not JSON")
        with pytest.raises(ObjectNotFoundError):
            store.get_latest("bucket-one", "k")

    def test_finalize_ready_takes_references(self, store: MetadataStore) -> None:
        one, two = add(store, "one"), add(store, "two")
        first = store.finalize_ready(one.id, digest=DIGEST_A, size=1, extracted={"pages": 3})
        assert first.blob_created is True
        assert first.record is not None
        assert first.record.status is ObjectStatus.READY
        assert first.record.digest == DIGEST_A
        assert first.record.extracted == {"pages": 3}
        second = store.finalize_ready(two.id, digest=DIGEST_A, size=1, extracted={})
        assert second.blob_created is False
        assert store.blob_refcount(DIGEST_A) == 2
        again = store.finalize_ready(one.id, digest=DIGEST_A, size=1, extracted={})
        assert again.blob_created is False
        assert again.record is not None
        assert again.record.extracted == {"pages": 3}
        assert store.blob_refcount(DIGEST_A) == 2
        assert store.blob_refcount(DIGEST_B) == 0

    def test_finalize_deleted_or_failed_record(self, store: MetadataStore) -> None:
        gone = store.finalize_ready(new_id(), digest=DIGEST_A, size=1, extracted={})
        assert gone.record is None
        assert gone.blob_created is False
        failed = add(store)
        store.mark_failed(failed.id, "bad bytes")
        result = store.finalize_ready(failed.id, digest=DIGEST_A, size=1, extracted={})
        assert result.record is not None
        assert result.record.status is ObjectStatus.FAILED
        assert store.blob_refcount(DIGEST_A) == 0

    def test_finalize_ready_many_in_one_transaction(self, store: MetadataStore) -> None:
        one, two, three = add(store, "one"), add(store, "two"), add(store, "three")
        failed = add(store, "failed")
        store.mark_failed(failed.id, "bad bytes")
        gone = new_id()
        results = store.finalize_ready_many(
            [
                ReadyObject(one.id, DIGEST_B, 1, {"n": 1}),
                ReadyObject(gone, DIGEST_A, 1, {}),
                ReadyObject(two.id, DIGEST_A, 1, {"n": 2}),
                ReadyObject(failed.id, DIGEST_A, 1, {}),
                ReadyObject(three.id, DIGEST_A, 1, {"n": 3}),
                ReadyObject(one.id, DIGEST_B, 1, {"n": 99}),
            ]
        )
        # In the order asked, whatever order the store took them in.
        assert [r.record.id if r.record else None for r in results] == [
            one.id,
            None,
            two.id,
            failed.id,
            three.id,
            one.id,
        ]
        assert [r.blob_created for r in results] == [True, False, True, False, False, False]
        statuses = [r.record.status if r.record else None for r in results]
        assert statuses == [
            ObjectStatus.READY,
            None,
            ObjectStatus.READY,
            ObjectStatus.FAILED,
            ObjectStatus.READY,
            ObjectStatus.READY,
        ]
        # Named twice, made ready once: the first metadata stays, one reference is taken.
        assert store.get_object(one.id).extracted == {"n": 1}
        assert store.get_object(three.id).extracted == {"n": 3}
        assert store.blob_refcount(DIGEST_A) == 2
        assert store.blob_refcount(DIGEST_B) == 1
        assert store.finalize_ready_many([]) == []

    def test_mark_failed(self, store: MetadataStore) -> None:
        record = add(store)
        failed = store.mark_failed(record.id, "not a PNG")
        assert failed is not None
        assert failed.status is ObjectStatus.FAILED
        assert failed.error == "not a PNG"
        done = add(store)
        ready(store, done)
        left = store.mark_failed(done.id, "late failure")
        assert left is not None
        assert left.status is ObjectStatus.READY
        assert left.error is None
        assert store.mark_failed(new_id(), "gone") is None

    def test_mark_failed_records_whether_the_failure_is_final(self, store: MetadataStore) -> None:
        content = store.mark_failed(add(store).id, "not a PNG")
        assert content is not None and content.failure_kind is FailureKind.FINAL
        record = add(store)
        retriable = store.mark_failed(record.id, "gave up", kind=FailureKind.RETRIABLE)
        assert retriable is not None
        assert (retriable.status, retriable.failure_kind) == (
            ObjectStatus.FAILED,
            FailureKind.RETRIABLE,
        )
        assert store.get_object(record.id) == retriable
        # A second verdict does not overwrite the first.
        again = store.mark_failed(record.id, "other", kind=FailureKind.FINAL)
        assert again is not None and (again.error, again.failure_kind) == (
            "gave up",
            retriable.failure_kind,
        )
        done = add(store)
        ready(store, done)
        assert store.get_object(done.id).failure_kind is None
        assert store.get_object(add(store).id).failure_kind is None

    def test_retriable_failures_and_reopen_failed(self, store: MetadataStore) -> None:
        final = add(store, "final")
        store.mark_failed(final.id, "not JSON")
        first, second = add(store, "first"), add(store, "second")
        store.mark_failed(first.id, "interrupted", kind=FailureKind.RETRIABLE)
        store.mark_failed(second.id, "gave up", kind=FailureKind.RETRIABLE)
        pending, done = add(store, "pending"), add(store, "done")
        ready(store, done)

        assert [r.id for r in store.retriable_failures()] == [first.id, second.id]
        assert [r.id for r in store.retriable_failures(limit=1)] == [first.id]

        reopened = store.reopen_failed(first.id)
        assert reopened is not None
        assert (reopened.status, reopened.error, reopened.failure_kind) == (
            ObjectStatus.PENDING,
            None,
            None,
        )
        assert reopened.updated_at > first.updated_at
        assert [r.id for r in store.retriable_failures()] == [second.id]
        assert first.id in [r.id for r in store.pending_before(utcnow() + timedelta(seconds=1))]
        # Anything but a retriable failure is left as it is.
        for other in (final, pending, done):
            assert store.reopen_failed(other.id) == store.get_object(other.id)
        assert store.get_object(final.id).status is ObjectStatus.FAILED
        assert store.reopen_failed(new_id()) is None
        # Reopened and then processed: ready, with no trace of the failure.
        ready(store, reopened)
        after = store.get_object(first.id)
        assert (after.status, after.error, after.failure_kind) == (ObjectStatus.READY, None, None)

    def test_delete_objects_drops_references(self, store: MetadataStore) -> None:
        v1, v2, v3 = add(store, "k"), add(store, "k"), add(store, "k")
        ready(store, v1, DIGEST_A)
        ready(store, v2, DIGEST_A)
        other = add(store, "other")
        ready(store, other, DIGEST_A)
        assert store.blob_refcount(DIGEST_A) == 3
        assert store.delete_objects("bucket-one", "k", version=v1.id) == 1
        assert store.blob_refcount(DIGEST_A) == 2
        assert store.delete_objects("bucket-one", "k") == 2  # v2 (ready) and v3 (pending)
        assert store.blob_refcount(DIGEST_A) == 1
        assert store.delete_objects("bucket-one", "k") == 0
        with pytest.raises(ObjectNotFoundError):
            store.get_object(v3.id)
        assert store.get_object(other.id).status is ObjectStatus.READY

    def test_pending_before_and_touch(self, store: MetadataStore) -> None:
        base = utcnow() - timedelta(hours=1)
        old = add(store, "old", created_at=base)
        older = add(store, "older", created_at=base - timedelta(minutes=5))
        add(store, "fresh")
        done = add(store, "done", created_at=base)
        ready(store, done)
        cutoff = utcnow() - timedelta(minutes=10)
        assert [r.id for r in store.pending_before(cutoff)] == [older.id, old.id]
        assert [r.id for r in store.pending_before(cutoff, limit=1)] == [older.id]
        store.touch(older.id)
        assert [r.id for r in store.pending_before(cutoff)] == [old.id]
        store.touch(new_id())  # a record deleted meanwhile is no error
