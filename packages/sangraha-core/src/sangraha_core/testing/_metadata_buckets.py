"""Buckets in the metadata store suite: their rows, policies, totals and deletion rule."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest

from sangraha_core import (
    Bucket,
    BucketAlreadyExistsError,
    BucketKinds,
    BucketNotEmptyError,
    BucketNotFoundError,
    InvalidNameError,
    ObjectKind,
    ObjectNotFoundError,
)
from sangraha_core.metadata import MetadataStore

from ._metadata_support import add, list_all, make_record, make_session

__all__ = ["BucketsConformance", "at_once"]


def at_once(*calls: Callable[[], object]) -> list[BaseException | None]:
    """Run ``calls`` in threads released together; what each raised (``None``: nothing)."""
    barrier = threading.Barrier(len(calls))
    raised: list[BaseException | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            raised[index] = exc

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


class BucketsConformance:
    """Making, reading, listing, changing and deleting buckets. Part of
    ``MetadataStoreConformance``; the subclass gives the ``store`` fixture."""

    def test_create_and_get_a_bucket(self, store: MetadataStore) -> None:
        made = store.create_bucket("bucket-one", BucketKinds.ANY)
        assert (made.name, made.kinds) == ("bucket-one", BucketKinds.ANY)
        assert made.created_at.utcoffset() == timedelta(0)
        assert store.get_bucket("bucket-one") == made

    def test_a_bucket_is_made_once(self, store: MetadataStore) -> None:
        made = store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        with pytest.raises(BucketAlreadyExistsError):
            store.create_bucket("bucket-one", BucketKinds.ANY)
        # exist_ok answers the bucket as it is: the policy asked for does not change it.
        assert store.create_bucket("bucket-one", BucketKinds.ANY, exist_ok=True) == made
        assert store.get_bucket("bucket-one").kinds is BucketKinds.VALIDATED

    def test_buckets_made_at_once_are_one_bucket(self, store: MetadataStore) -> None:
        barrier = threading.Barrier(4)
        made: list[Bucket] = []
        errors: list[BaseException] = []

        def create() -> None:
            barrier.wait()
            try:
                made.append(store.create_bucket("bucket-one", BucketKinds.ANY, exist_ok=True))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(made) == 4 and all(b == made[0] for b in made)
        assert [b.name for b in store.list_buckets()] == ["bucket-one"]

    def test_a_bucket_name_is_validated(self, store: MetadataStore) -> None:
        for bad in ("ab", "Upper", "a..b", "-dash", "x" * 64):
            with pytest.raises(InvalidNameError):
                store.create_bucket(bad, BucketKinds.VALIDATED)
        assert store.list_buckets() == []

    def test_an_unknown_bucket(self, store: MetadataStore) -> None:
        with pytest.raises(BucketNotFoundError):
            store.get_bucket("bucket-one")
        with pytest.raises(BucketNotFoundError):
            store.set_bucket_kinds("bucket-one", BucketKinds.ANY)
        with pytest.raises(BucketNotFoundError):
            store.delete_bucket("bucket-one")

    def test_list_buckets_by_name_with_their_totals(self, store: MetadataStore) -> None:
        for name in ("bucket-two", "bucket-one", "bucket-empty"):
            store.create_bucket(name, BucketKinds.VALIDATED)
        add(store, "a")
        add(store, "a")  # a second version: one key, twice the bytes
        add(store, "b")
        add(store, "c", bucket="bucket-two")
        add(store, "d", bucket="no-row-made")  # a record alone makes no bucket
        listed = {b.name: (b.objects, b.bytes) for b in store.list_buckets()}
        assert list(listed) == ["bucket-empty", "bucket-one", "bucket-two"]
        # make_record's records hold 6 bytes each.
        assert listed == {"bucket-empty": (0, 0), "bucket-one": (2, 18), "bucket-two": (1, 6)}
        one = next(b for b in store.list_buckets() if b.name == "bucket-one")
        assert one.kinds is BucketKinds.VALIDATED
        assert one.created_at == store.get_bucket("bucket-one").created_at

    def test_list_buckets_without_totals_is_the_listing_less_its_totals(
        self, store: MetadataStore
    ) -> None:
        assert store.list_buckets_without_totals() == []
        for name in ("bucket-two", "bucket-one"):
            store.create_bucket(name, BucketKinds.VALIDATED)
        store.set_bucket_kinds("bucket-two", BucketKinds.ANY)
        add(store, "a")
        add(store, "d", bucket="no-row-made")
        assert store.list_buckets_without_totals() == [
            store.get_bucket("bucket-one"),
            store.get_bucket("bucket-two"),
        ]

    def test_set_bucket_kinds(self, store: MetadataStore) -> None:
        made = store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        changed = store.set_bucket_kinds("bucket-one", BucketKinds.ANY)
        assert changed == made.model_copy(update={"kinds": BucketKinds.ANY})
        assert store.get_bucket("bucket-one").kinds is BucketKinds.ANY
        assert store.set_bucket_kinds("bucket-one", BucketKinds.VALIDATED).kinds is (
            BucketKinds.VALIDATED
        )

    def test_only_an_empty_bucket_is_deleted(self, store: MetadataStore) -> None:
        store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        store.create_bucket("bucket-two", BucketKinds.VALIDATED)
        record = add(store, "a")
        add(store, "a", bucket="bucket-two")
        with pytest.raises(BucketNotEmptyError):
            store.delete_bucket("bucket-one")
        assert store.get_bucket("bucket-one").name == "bucket-one"
        store.delete_objects("bucket-one", record.key)
        store.delete_bucket("bucket-one")
        with pytest.raises(BucketNotFoundError):
            store.get_bucket("bucket-one")
        assert [b.name for b in store.list_buckets()] == ["bucket-two"]
        with pytest.raises(BucketNotFoundError):
            store.delete_bucket("bucket-one")

    def test_an_open_upload_keeps_its_bucket(self, store: MetadataStore) -> None:
        store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        session = make_session()  # of bucket-one
        store.create_upload(session)
        with pytest.raises(BucketNotEmptyError):
            store.delete_bucket("bucket-one")
        store.finish_upload(session.id, status="aborted", object_id=None)
        expired = make_session(timedelta(minutes=-5))
        store.create_upload(expired)  # past its expiry: no longer anything in progress
        store.delete_bucket("bucket-one")
        with pytest.raises(BucketNotFoundError):
            store.get_bucket("bucket-one")
        # Made again, the bucket is new: nothing of the old one is in the way.
        assert store.create_bucket("bucket-one", BucketKinds.ANY).kinds is BucketKinds.ANY

    def test_a_record_checked_against_its_bucket_needs_the_bucket(
        self, store: MetadataStore
    ) -> None:
        record = make_record(bucket="bucket-one")
        with pytest.raises(BucketNotFoundError):
            store.create_object(record, buckets={"bucket-one": None})
        with pytest.raises(ObjectNotFoundError):
            store.get_object(record.id)
        store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        store.create_object(record, buckets={"bucket-one": None})
        assert store.get_object(record.id) == record

    def test_a_record_may_make_its_missing_bucket(self, store: MetadataStore) -> None:
        record = make_record(bucket="bucket-one")
        store.create_object(record, buckets={"bucket-one": BucketKinds.ANY})
        assert store.get_bucket("bucket-one").kinds is BucketKinds.ANY
        assert store.get_object(record.id) == record
        # An existing bucket keeps its policy.
        other = make_record("b.json", bucket="bucket-one")
        store.create_object(other, buckets={"bucket-one": BucketKinds.VALIDATED})
        assert store.get_bucket("bucket-one").kinds is BucketKinds.ANY

    def test_records_checked_together_are_written_all_or_none(self, store: MetadataStore) -> None:
        from sangraha_core.metadata import CreatesMany

        if not isinstance(store, CreatesMany):
            pytest.skip("the store writes one record at a time")
        store.create_bucket("bucket-one", BucketKinds.VALIDATED)
        here, gone = make_record(bucket="bucket-one"), make_record(bucket="bucket-two")
        with pytest.raises(BucketNotFoundError):
            store.create_objects([here, gone], buckets={"bucket-one": None, "bucket-two": None})
        assert list_all(store) == []
        store.create_objects([here], buckets={"bucket-one": None})
        assert store.get_object(here.id) == here

    def test_a_record_and_the_deletion_of_its_bucket_take_turns(self, store: MetadataStore) -> None:
        """A record checked against its bucket and ``delete_bucket`` at the same moment,
        from two connections: the bucket is deleted and the record refused, or the record
        is made and the deletion refused; never a record in a deleted bucket."""
        peer = self.open_peer(store)  # type: ignore[attr-defined]
        try:
            for round_ in range(20):
                name = f"bucket-{round_}"
                store.create_bucket(name, BucketKinds.VALIDATED)
                record = make_record(bucket=name)
                wrote, deleted = at_once(
                    partial(store.create_object, record, buckets={name: None}),
                    partial(peer.delete_bucket, name),
                )
                if deleted is None:
                    assert isinstance(wrote, BucketNotFoundError)
                    with pytest.raises(ObjectNotFoundError):
                        store.get_object(record.id)
                else:
                    assert isinstance(deleted, BucketNotEmptyError)
                    assert wrote is None
                    assert store.get_object(record.id).bucket == name
        finally:
            peer.close()

    def test_an_opaque_record_round_trips(self, store: MetadataStore) -> None:
        record = add(store, "notes.txt", kind=ObjectKind.OPAQUE)
        assert store.get_object(record.id) == record
        assert store.get_object(record.id).kind is ObjectKind.OPAQUE
