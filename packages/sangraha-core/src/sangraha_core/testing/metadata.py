"""The one behaviour suite every metadata store passes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text

from sangraha_core import (
    Digest,
    FailureKind,
    InvalidRequestError,
    ListQuery,
    MetadataUnavailableError,
    ObjectKind,
    ObjectNotFoundError,
    ObjectPendingError,
    ObjectRecord,
    ObjectStatus,
    PartRecord,
    UploadNotFoundError,
    UploadSession,
    UploadStatus,
    new_id,
    utcnow,
)
from sangraha_core.metadata import MetadataStore
from sangraha_core.metadata._rows import object_row
from sangraha_core.metadata._schema import MIGRATIONS, objects, schema_version, upgrade
from sangraha_core.metadata.sql import SqlMetadataStore
from tests.core.metadata._support import migrate_together

StoreFactory = Callable[[], SqlMetadataStore]

STAGED = Digest.of(b"staged")
DIGEST_A = Digest.of(b"a")
DIGEST_B = Digest.of(b"b")


def make_record(
    key: str = "docs/a.json",
    *,
    bucket: str = "bucket-one",
    status: ObjectStatus = ObjectStatus.PENDING,
    kind: ObjectKind = ObjectKind.JSON,
    metadata: dict[str, str] | None = None,
    created_at: datetime | None = None,
    object_id: str | None = None,
) -> ObjectRecord:
    now = created_at or utcnow()
    return ObjectRecord(
        id=object_id or new_id(),
        bucket=bucket,
        key=key,
        status=status,
        kind=kind,
        content_type={"json": "application/json", "image": "image/png", "pdf": "application/pdf"}[
            kind.value
        ],
        size=6,
        digest=STAGED,
        created_at=now,
        updated_at=now,
        metadata=metadata or {},
    )


def add(store: SqlMetadataStore, *args: Any, **kwargs: Any) -> ObjectRecord:
    record = make_record(*args, **kwargs)
    store.create_object(record)
    return record


def ready(store: SqlMetadataStore, record: ObjectRecord, digest: Digest = DIGEST_A) -> None:
    store.finalize_ready(record.id, digest=digest, size=1, extracted={"shape": "object"})


def list_all(store: SqlMetadataStore, **query: Any) -> list[ObjectRecord]:
    items: list[ObjectRecord] = []
    cursor = None
    while True:
        page = store.list_objects(ListQuery(bucket="bucket-one", cursor=cursor, **query))
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


# -- schema ---------------------------------------------------------------------------


def versions(store: SqlMetadataStore) -> list[int]:
    with store._engine.connect() as conn:
        return list(conn.execute(select(schema_version.c.version)).scalars())


def test_is_a_metadata_store(store: SqlMetadataStore) -> None:
    assert isinstance(store, MetadataStore)


def test_migrate_twice_is_a_no_op(store: SqlMetadataStore) -> None:
    add(store)
    store.migrate()
    assert versions(store) == [m.version for m in MIGRATIONS]
    assert len(list_all(store)) == 1


def test_migrate_concurrently(open_store: StoreFactory) -> None:
    stores = [open_store() for _ in range(3)]
    assert migrate_together(stores) == []
    assert versions(stores[0]) == [m.version for m in MIGRATIONS]
    add(stores[1])
    assert len(list_all(stores[2])) == 1


# -- records --------------------------------------------------------------------------


def test_create_and_get_round_trip(store: SqlMetadataStore) -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    record = add(store, metadata={"team": "blue", "owner": "ana"}, created_at=created)
    got = store.get_object(record.id)
    assert got == record
    assert got.created_at.tzinfo is not None
    assert got.created_at.utcoffset() == timedelta(0)
    assert got.created_at == created


def test_duplicate_id_is_rejected(store: SqlMetadataStore) -> None:
    record = add(store)
    with pytest.raises(InvalidRequestError, match="already exists"):
        store.create_object(record)


def test_get_unknown_object(store: SqlMetadataStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get_object(new_id())


def test_get_latest(store: SqlMetadataStore) -> None:
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


def test_get_newest(store: SqlMetadataStore) -> None:
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


def test_get_latest_when_every_version_failed(store: SqlMetadataStore) -> None:
    record = add(store, "k")
    store.mark_failed(record.id, "not JSON")
    with pytest.raises(ObjectNotFoundError):
        store.get_latest("bucket-one", "k")


def test_finalize_ready_takes_references(store: SqlMetadataStore) -> None:
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


def test_finalize_deleted_or_failed_record(store: SqlMetadataStore) -> None:
    gone = store.finalize_ready(new_id(), digest=DIGEST_A, size=1, extracted={})
    assert gone.record is None
    assert gone.blob_created is False
    failed = add(store)
    store.mark_failed(failed.id, "bad bytes")
    result = store.finalize_ready(failed.id, digest=DIGEST_A, size=1, extracted={})
    assert result.record is not None
    assert result.record.status is ObjectStatus.FAILED
    assert store.blob_refcount(DIGEST_A) == 0


def test_mark_failed(store: SqlMetadataStore) -> None:
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


def test_mark_failed_records_whether_the_failure_is_final(store: SqlMetadataStore) -> None:
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


def test_retriable_failures_and_reopen_failed(store: SqlMetadataStore) -> None:
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


def test_migration_2_classifies_the_failures_of_a_version_1_database(
    open_store: StoreFactory,
) -> None:
    store = open_store()
    # A database as version 1 left it: no failure_kind column.
    store._run(lambda conn: upgrade(conn, MIGRATIONS[:1]))
    store._run(lambda conn: conn.execute(text("ALTER TABLE objects DROP COLUMN failure_kind")))
    gave_up = make_record("gave-up", status=ObjectStatus.FAILED)
    invalid = make_record("invalid", status=ObjectStatus.FAILED)
    waiting = make_record("waiting")
    rows = []
    for record, error in ((gave_up, "gave up after 5 attempts: X()"), (invalid, "not JSON")):
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


def test_delete_objects_drops_references(store: SqlMetadataStore) -> None:
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


def test_pending_before_and_touch(store: SqlMetadataStore) -> None:
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


# -- listing --------------------------------------------------------------------------


def test_list_orders_by_key_then_id_across_pages(store: SqlMetadataStore) -> None:
    made = [add(store, f"k{i % 7:02d}") for i in range(23)]
    expected = sorted(made, key=lambda r: (r.key, r.id))
    page = store.list_objects(ListQuery(bucket="bucket-one", limit=5))
    assert len(page.items) == 5
    assert page.next_cursor is not None
    assert [r.id for r in list_all(store, limit=5)] == [r.id for r in expected]
    assert [r.id for r in list_all(store, limit=23)] == [r.id for r in expected]
    last = store.list_objects(ListQuery(bucket="bucket-one", limit=23))
    assert last.next_cursor is None


def test_cursor_is_stable_under_inserts(store: SqlMetadataStore) -> None:
    before = [add(store, f"k{i:02d}") for i in range(0, 20, 2)]
    page = store.list_objects(ListQuery(bucket="bucket-one", limit=4))
    seen = [r.id for r in page.items]
    # New keys both before and after the cursor position, and new versions of seen keys.
    inserted = [add(store, f"k{i:02d}") for i in range(1, 20, 2)] + [add(store, "k00")]
    cursor = page.next_cursor
    while cursor is not None:
        page = store.list_objects(ListQuery(bucket="bucket-one", limit=4, cursor=cursor))
        seen.extend(r.id for r in page.items)
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert {r.id for r in before} <= set(seen)
    after_cursor = {r.id for r in inserted if r.key > "k06"}
    assert after_cursor <= set(seen)
    assert not {r.id for r in inserted if r.key < "k06"} & set(seen)


def test_invalid_cursor(store: SqlMetadataStore) -> None:
    for bad in ["not base64 !!", "e30", "WyJhIl0", "WzEsMl0", "\udc80"]:
        with pytest.raises(InvalidRequestError):
            store.list_objects(ListQuery(bucket="bucket-one", cursor=bad))


def test_list_prefix_treats_wildcards_literally(store: SqlMetadataStore) -> None:
    keys = ["a%b/1", "a%b/2", "axb/1", "a_b/1", "a%c", "a%", "b", "a%b"]
    for key in keys:
        add(store, key)
    assert [r.key for r in list_all(store, prefix="a%b")] == ["a%b", "a%b/1", "a%b/2"]
    assert [r.key for r in list_all(store, prefix="a_")] == ["a_b/1"]
    assert [r.key for r in list_all(store, prefix="zzz")] == []
    assert len(list_all(store, prefix="\U0010ffff")) == 0


def test_list_filters(store: SqlMetadataStore) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    png = add(store, "p", kind=ObjectKind.IMAGE, metadata={"team": "blue"}, created_at=t0)
    pdf = add(store, "q", kind=ObjectKind.PDF, metadata={"team": "blue", "year": "2024"})
    both = add(store, "r", metadata={"team": "blue", "year": "2024"}, created_at=t0)
    red = add(store, "s", metadata={"team": "red", "year": "2024"})
    add(store, "t", bucket="bucket-two", metadata={"team": "blue"})
    ready(store, both)

    def ids(**query: Any) -> set[str]:
        return {r.id for r in list_all(store, **query)}

    assert ids(kind=ObjectKind.IMAGE) == {png.id}
    assert ids(status=ObjectStatus.READY) == {both.id}
    assert ids(metadata={"team": "blue"}) == {png.id, pdf.id, both.id}
    assert ids(metadata={"team": "blue", "year": "2024"}) == {pdf.id, both.id}
    assert ids(metadata={"team": "blue", "year": "2024"}, kind=ObjectKind.PDF) == {pdf.id}
    assert ids(metadata={"year": "2024"}, prefix="s") == {red.id}
    assert ids(metadata={"team": "green"}) == set()
    assert ids(created_after=t0 + timedelta(days=1)) == {pdf.id, red.id}
    assert ids(created_before=t0 + timedelta(seconds=1)) == {png.id, both.id}
    assert ids(created_after=t0, created_before=t0 + timedelta(seconds=1)) == {png.id, both.id}
    # The bounds may be given in any timezone.
    ist = timezone(timedelta(hours=5, minutes=30))
    assert ids(created_before=(t0 + timedelta(seconds=1)).astimezone(ist)) == {png.id, both.id}


def test_metadata_filter_pages(store: SqlMetadataStore) -> None:
    made = [
        add(store, f"k{i:02d}", metadata={"team": "blue" if i % 3 else "red"}) for i in range(30)
    ]
    blue = sorted((r for r in made if r.metadata["team"] == "blue"), key=lambda r: (r.key, r.id))
    got = list_all(store, metadata={"team": "blue"}, limit=3)
    assert [r.id for r in got] == [r.id for r in blue]
    assert all(r.metadata == {"team": "blue"} for r in got)


def test_latest_only(store: SqlMetadataStore) -> None:
    a1 = add(store, "a", metadata={"team": "blue"})
    a2 = add(store, "a", metadata={"team": "red"})
    b1 = add(store, "b", metadata={"team": "blue"})
    b2 = add(store, "b", metadata={"team": "blue"})
    ready(store, a1)
    assert [r.id for r in list_all(store, latest_only=True)] == [a2.id, b2.id]
    # Among the versions that match the other filters: a2 is red, so a1 is a's newest blue.
    assert [r.id for r in list_all(store, latest_only=True, metadata={"team": "blue"})] == [
        a1.id,
        b2.id,
    ]
    assert [r.id for r in list_all(store, latest_only=True, status=ObjectStatus.READY)] == [a1.id]
    assert [r.id for r in list_all(store, latest_only=True, limit=1)] == [a2.id, b2.id]
    assert b1.id not in {r.id for r in list_all(store, latest_only=True)}


# -- blob garbage ---------------------------------------------------------------------


def test_collect_garbage(store: SqlMetadataStore) -> None:
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


def test_collect_garbage_keeps_the_row_when_delete_fails(store: SqlMetadataStore) -> None:
    record = add(store)
    ready(store, record, DIGEST_A)
    store.delete_objects("bucket-one", record.key)

    def broken(digest: Digest) -> None:
        raise OSError("blob store down")

    with pytest.raises(OSError):
        store.collect_garbage(broken)
    # Still known (refcount 0, row kept), so a new reference reuses the stored bytes.
    revived = add(store)
    assert (
        store.finalize_ready(revived.id, digest=DIGEST_A, size=1, extracted={}).blob_created
        is False
    )


def test_collect_garbage_respects_limit(store: SqlMetadataStore) -> None:
    for i in range(3):
        record = add(store, f"k{i}")
        ready(store, record, Digest.of(str(i).encode()))
        store.delete_objects("bucket-one", record.key)
    deleted: list[Digest] = []
    assert store.collect_garbage(deleted.append, limit=2) == 2
    assert store.collect_garbage(deleted.append, limit=2) == 1
    assert len(set(deleted)) == 3


def test_finalize_collect_delete_race(store: SqlMetadataStore) -> None:
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
                        violations.append("finalize said the blob existed but its bytes were gone")
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


# -- idempotency keys -----------------------------------------------------------------


def test_idempotency_keys(store: SqlMetadataStore) -> None:
    assert store.lookup_idempotency_key("bucket-one", "k1") is None
    first, second = new_id(), new_id()
    assert store.remember_idempotency_key("bucket-one", "k1", "fp", first) == first
    assert store.remember_idempotency_key("bucket-one", "k1", "fp", second) == first
    assert store.lookup_idempotency_key("bucket-one", "k1") == ("fp", first)
    with pytest.raises(InvalidRequestError):
        store.remember_idempotency_key("bucket-one", "k1", "other", second)
    assert store.remember_idempotency_key("bucket-two", "k1", "other", second) == second


# -- upload sessions ------------------------------------------------------------------


def make_session(expires_in: timedelta = timedelta(hours=1)) -> UploadSession:
    now = utcnow()
    return UploadSession(
        id=new_id(),
        bucket="bucket-one",
        key="big.pdf",
        content_type="application/pdf",
        kind=ObjectKind.PDF,
        size=12,
        digest=DIGEST_A,
        metadata={"team": "blue"},
        created_at=now,
        expires_at=now + expires_in,
        min_part_size=5,
        max_part_size=10,
        max_parts=3,
        multipart_id="mp-1",
    )


def part(number: int, etag: str = "e") -> PartRecord:
    return PartRecord(number=number, size=5, etag=f"{etag}{number}", digest=DIGEST_B)


def test_upload_session_lifecycle(store: SqlMetadataStore) -> None:
    session = make_session()
    store.create_upload(session)
    with pytest.raises(InvalidRequestError):
        store.create_upload(session)
    assert store.get_upload(session.id) == session
    assert store.get_upload(session.id).multipart_id == "mp-1"
    store.put_part(session.id, part(2))
    store.put_part(session.id, part(1))
    store.put_part(session.id, part(2, etag="retry"))
    got = store.get_upload(session.id)
    assert [(p.number, p.etag) for p in got.parts] == [(1, "e1"), (2, "retry2")]
    object_id = new_id()
    store.finish_upload(session.id, status="completed", object_id=object_id)
    done = store.get_upload(session.id)
    assert done.status is UploadStatus.COMPLETED
    assert done.object_id == object_id
    store.delete_upload(session.id)
    with pytest.raises(UploadNotFoundError):
        store.get_upload(session.id)
    store.delete_upload(session.id)


def test_upload_errors(store: SqlMetadataStore) -> None:
    missing = new_id()
    with pytest.raises(UploadNotFoundError):
        store.get_upload(missing)
    with pytest.raises(UploadNotFoundError):
        store.put_part(missing, part(1))
    with pytest.raises(UploadNotFoundError):
        store.finish_upload(missing, status="aborted", object_id=None)
    session = make_session()
    store.create_upload(session)
    with pytest.raises(InvalidRequestError):
        store.finish_upload(session.id, status="sideways", object_id=None)
    store.finish_upload(session.id, status="aborted", object_id=None)
    assert store.get_upload(session.id).status is UploadStatus.ABORTED


def test_expired_uploads(store: SqlMetadataStore) -> None:
    late = make_session(timedelta(minutes=-5))
    later = make_session(timedelta(minutes=-10))
    live = make_session()
    for s in (late, later, live):
        store.create_upload(s)
    store.put_part(late.id, part(1))
    expired = store.expired_uploads(utcnow())
    assert [s.id for s in expired] == [later.id, late.id]
    assert [p.number for p in expired[1].parts] == [1]
    assert [s.id for s in store.expired_uploads(utcnow(), limit=1)] == [later.id]


# -- availability ---------------------------------------------------------------------


def test_check(store: SqlMetadataStore) -> None:
    store.check()


@pytest.mark.postgres
def test_unreachable_postgres() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = SqlMetadataStore.from_url(f"postgresql://postgres@127.0.0.1:{port}/test")
    try:
        with pytest.raises(MetadataUnavailableError):
            store.check()
        with pytest.raises(MetadataUnavailableError):
            store.get_object(new_id())
        with pytest.raises(MetadataUnavailableError):
            store.migrate()
    finally:
        store.close()


def test_unopenable_sqlite(tmp_path: Any) -> None:
    store = SqlMetadataStore.from_url(f"sqlite:///{tmp_path}/missing-dir/metadata.db")
    try:
        with pytest.raises(MetadataUnavailableError):
            store.check()
    finally:
        store.close()


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
            from sangraha_core.metadata._schema import objects

            assert conn.execute(select(func.count()).select_from(objects)).scalar() == 40
    finally:
        store.close()
