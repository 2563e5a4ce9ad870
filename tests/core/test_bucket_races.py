"""Writes racing the deletion of their bucket: a record is made only in a bucket that exists
in the record's own transaction, so nothing is orphaned in a bucket deleted meanwhile (by
another process, whose deletion this process's bucket cache has not seen yet)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial

import pytest
from sqlalchemy import delete

from sangraha_core import (
    Backends,
    BucketKinds,
    BucketNotEmptyError,
    BucketNotFoundError,
    Ingest,
    ListQuery,
    ObjectNotFoundError,
    ObjectStatus,
    Uploads,
    UploadStatus,
    staging_key,
)
from sangraha_core.metadata._schema import buckets as bucket_rows
from sangraha_core.testing._metadata_buckets import at_once

BODY = b'{"hello": "world"}'


def pieces(data: bytes, size: int = 7) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def staged_blobs(backends: Backends) -> list[str]:
    return [info.key for info in backends.blobs.list("staging/")]


def delete_elsewhere(backends: Backends, name: str) -> None:
    """Delete the bucket in the store only, as another process does: this process's bucket
    cache still holds it."""
    backends.metadata.delete_bucket(name)


def test_an_s3_put_into_a_bucket_deleted_elsewhere_is_refused_and_leaves_nothing(
    backends: Backends,
) -> None:
    backends.bucket_cache.create("gone", BucketKinds.VALIDATED)
    delete_elsewhere(backends, "gone")
    ingest = Ingest(backends)
    with pytest.raises(BucketNotFoundError):
        ingest.accept("gone", "a.json", "application/json", pieces(BODY), create_bucket=False)
    with pytest.raises(BucketNotFoundError):
        backends.metadata.get_bucket("gone")
    assert backends.metadata.list_objects(ListQuery(bucket="gone")).items == []
    assert staged_blobs(backends) == []
    # The cache learnt the bucket is gone: the next upload is refused before its bytes.
    with pytest.raises(BucketNotFoundError):
        backends.bucket_cache.get("gone")


def test_a_v1_put_into_a_bucket_deleted_elsewhere_makes_it_again(backends: Backends) -> None:
    backends.bucket_cache.create("again", BucketKinds.ANY)
    delete_elsewhere(backends, "again")
    record = Ingest(backends).accept("again", "a.txt", "text/plain", pieces(b"plain text"))
    # Made again with the policy the upload was checked against (``any`` takes text).
    assert backends.metadata.get_bucket("again").kinds is BucketKinds.ANY
    assert backends.metadata.get_object(record.id).bucket == "again"
    with pytest.raises(BucketNotEmptyError):
        backends.metadata.delete_bucket("again")


def test_in_one_batch_only_the_upload_to_a_missing_bucket_fails(backends: Backends) -> None:
    from sangraha_core._group_commit import StagedUpload, commit_staged
    from sangraha_core.testing.metadata import make_record

    backends.metadata.create_bucket("here", BucketKinds.VALIDATED)
    kept, lost, made = (
        make_record("a.json", bucket="here"),
        make_record("b.json", bucket="nowhere"),
        make_record("c.json", bucket="new-one"),
    )
    for record in (kept, lost, made):
        backends.blobs.put(staging_key(record.id), [BODY])
    batch = [
        StagedUpload(backends.blobs, staging_key(kept.id), kept),
        StagedUpload(backends.blobs, staging_key(lost.id), lost),
        StagedUpload(backends.blobs, staging_key(made.id), made, BucketKinds.ANY),
    ]
    errors = commit_staged(backends.metadata, batch)
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], BucketNotFoundError)
    assert backends.metadata.get_object(kept.id) == kept
    assert backends.metadata.get_object(made.id) == made
    assert backends.metadata.get_bucket("new-one").kinds is BucketKinds.ANY
    with pytest.raises(ObjectNotFoundError):
        backends.metadata.get_object(lost.id)


def test_the_group_commit_fails_only_its_own_upload(backends: Backends) -> None:
    """Many uploads at once, half of them to a bucket deleted elsewhere: each upload to it
    fails alone, every other one is stored, and no staged bytes are left behind."""
    backends.bucket_cache.create("live", BucketKinds.VALIDATED)
    backends.bucket_cache.create("dead", BucketKinds.VALIDATED)
    delete_elsewhere(backends, "dead")
    ingest = Ingest(backends)
    outcomes: dict[str, BaseException | None] = {}
    barrier = threading.Barrier(8)

    def put(bucket: str, key: str) -> None:
        barrier.wait()
        try:
            ingest.accept(bucket, key, "application/json", [BODY], create_bucket=False)
        except BaseException as exc:
            outcomes[key] = exc
        else:
            outcomes[key] = None

    threads = [
        threading.Thread(target=put, args=("dead" if i % 2 else "live", f"k{i}.json"))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(8):
        if i % 2:
            assert isinstance(outcomes[f"k{i}.json"], BucketNotFoundError)
        else:
            assert outcomes[f"k{i}.json"] is None
    live = backends.metadata.list_objects(ListQuery(bucket="live")).items
    assert sorted(r.key for r in live) == [f"k{i}.json" for i in range(0, 8, 2)]
    assert backends.metadata.list_objects(ListQuery(bucket="dead")).items == []
    assert sorted(staged_blobs(backends)) == sorted(staging_key(r.id) for r in live)


def test_puts_racing_delete_bucket_never_leave_an_orphan(backends: Backends) -> None:
    """A PUT and a DeleteBucket at once: either the bucket is deleted and the PUT refused, or
    the PUT is stored and the delete refused, never a record in a deleted bucket."""
    ingest = Ingest(backends)
    live: set[str] = set()
    for round_ in range(30):
        name = f"race-{round_}"
        backends.bucket_cache.create(name, BucketKinds.VALIDATED)
        put, deleted = at_once(
            partial(ingest.accept, name, "a.json", "application/json", [BODY], create_bucket=False),
            partial(backends.metadata.delete_bucket, name),
        )
        stored = backends.metadata.list_objects(ListQuery(bucket=name)).items
        if deleted is None:
            assert isinstance(put, BucketNotFoundError)
            assert stored == []
        else:
            assert isinstance(deleted, BucketNotEmptyError)
            assert put is None
            assert [r.key for r in stored] == ["a.json"]
        live.update(staging_key(r.id) for r in stored)
    # A refused PUT took its staged bytes back with it.
    assert set(staged_blobs(backends)) == live


def test_completing_a_session_whose_bucket_is_gone_is_refused(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1)
    session = uploads.open("short-lived", "big.json", "application/json")
    uploads.put_part(session.id, 1, [BODY])
    # An open session keeps its bucket from delete_bucket; the row can still go (an older
    # process, an operator): the record must not be made then.
    with pytest.raises(BucketNotEmptyError):
        backends.metadata.delete_bucket("short-lived")
    store = backends.metadata
    store._run(lambda conn: conn.execute(delete(bucket_rows)))  # type: ignore[attr-defined]
    with pytest.raises(BucketNotFoundError):
        uploads.complete(session.id)
    with pytest.raises(ObjectNotFoundError):
        store.get_object(session.id)
    assert store.get_upload(session.id).status is UploadStatus.ABORTED
    assert staged_blobs(backends) == []


def test_a_record_of_a_live_bucket_is_unaffected(backends: Backends) -> None:
    # The check costs nothing visible: an ordinary upload reads back as before.
    record = Ingest(backends).accept("plain", "a.json", "application/json", [BODY])
    assert record.status is ObjectStatus.PENDING
    assert backends.metadata.get_object(record.id).bucket == "plain"
    assert backends.metadata.get_bucket("plain").name == "plain"
