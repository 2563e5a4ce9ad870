"""``process_object`` on its own: every branch of step 4 of an upload's life."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sangraha_core import (
    SMALL_OBJECT_SIZE,
    Backends,
    BlobStoreUnavailableError,
    Digest,
    InvalidContentError,
    MetadataUnavailableError,
    ObjectStatus,
    Outcome,
    ProcessObject,
    blob_key,
    process_object,
    process_objects,
    staging_key,
)
from sangraha_core.kinds import ValidatorStartError
from sangraha_core.metadata import ReadyObject
from tests.worker._staging import JSON_BODY, FlakyBlobStore, pdf, png, stage, staged, stored


def run(backends: Backends, object_id: str) -> Outcome:
    return process_object(backends, ProcessObject.for_object(object_id))


@pytest.mark.parametrize(
    ("content_type", "make", "expected"),
    [
        ("application/json", lambda: JSON_BODY, {"json_type": "object", "key_count": 3}),
        ("image/png", lambda: png(5, 4), {"format": "png", "width": 5, "height": 4}),
        ("application/pdf", lambda: pdf(3), {"pages": 3, "title": "A title"}),
    ],
    ids=["json", "png", "pdf"],
)
def test_valid_object_becomes_ready(
    backends: Backends, content_type: str, make: Any, expected: dict[str, Any]
) -> None:
    data = make()
    record = stage(backends, data, content_type)

    assert run(backends, record.id) is Outcome.DONE

    ready = backends.metadata.get_object(record.id)
    assert ready.status is ObjectStatus.READY
    assert ready.error is None
    for name, value in expected.items():
        assert str(ready.extracted[name]).lower() == str(value).lower(), ready.extracted
    assert stored(backends, record.digest) == data
    assert not staged(backends, record.id)
    assert backends.metadata.blob_refcount(record.digest) == 1


def test_large_object_is_inspected_through_the_store(backends: Backends) -> None:
    # Past the in-memory threshold the bytes are hashed once, then parsed through ranged reads.
    data = b'{"blob": "' + b"x" * (SMALL_OBJECT_SIZE + 10) + b'"}'
    record = stage(backends, data)

    assert run(backends, record.id) is Outcome.DONE

    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    assert stored(backends, record.digest) == data


def test_same_bytes_under_two_keys_share_one_blob(backends: Backends) -> None:
    first = stage(backends, JSON_BODY, key="one")
    second = stage(backends, JSON_BODY, key="two")

    assert run(backends, first.id) is Outcome.DONE
    assert run(backends, second.id) is Outcome.DONE

    assert first.digest == second.digest
    assert backends.metadata.blob_refcount(first.digest) == 2
    assert [b.key for b in backends.blobs.list("blobs/")] == [blob_key(first.digest)]
    assert list(backends.blobs.list("staging/")) == []


def test_invalid_json_fails_with_a_reason(backends: Backends, corpus_dir: Path) -> None:
    invalid = sorted(corpus_dir.glob("n_*.json"))[:8]
    assert invalid, "the corpus has no n_ files"
    for path in invalid:
        record = stage(backends, path.read_bytes(), key=path.name)

        assert run(backends, record.id) is Outcome.FAILED, path.name

        failed = backends.metadata.get_object(record.id)
        assert failed.status is ObjectStatus.FAILED
        assert failed.error, path.name
        assert not backends.blobs.exists(blob_key(record.digest))
        assert backends.metadata.blob_refcount(record.digest) == 0
        assert not staged(backends, record.id)


def test_bytes_that_are_not_the_declared_kind_fail(backends: Backends) -> None:
    record = stage(backends, JSON_BODY, "image/png")

    assert run(backends, record.id) is Outcome.FAILED

    failed = backends.metadata.get_object(record.id)
    assert failed.error is not None and "png" in failed.error.lower()


def test_corrupt_staging_copy_fails_and_says_so(backends: Backends) -> None:
    record = stage(backends, JSON_BODY, record_digest=Digest.of(b"something else"))

    assert run(backends, record.id) is Outcome.FAILED

    failed = backends.metadata.get_object(record.id)
    assert failed.status is ObjectStatus.FAILED
    assert failed.error is not None and "corrupt" in failed.error
    assert not backends.blobs.exists(blob_key(record.digest))


def test_missing_staging_copy_fails(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    backends.blobs.delete(f"staging/{record.id}")

    assert run(backends, record.id) is Outcome.FAILED
    assert "missing" in (backends.metadata.get_object(record.id).error or "")


def test_redelivery_after_ready_changes_nothing(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    assert run(backends, record.id) is Outcome.DONE
    ready = backends.metadata.get_object(record.id)

    assert run(backends, record.id) is Outcome.SKIPPED

    assert backends.metadata.get_object(record.id) == ready
    assert backends.metadata.blob_refcount(record.digest) == 1
    assert stored(backends, record.digest) == JSON_BODY


def test_redelivery_after_a_crash_before_the_staging_delete(backends: Backends) -> None:
    # The first run got as far as the reference; the staging copy outlived it.
    record = stage(backends, JSON_BODY)
    assert run(backends, record.id) is Outcome.DONE
    backends.blobs.put(f"staging/{record.id}", JSON_BODY)

    assert run(backends, record.id) is Outcome.SKIPPED

    assert not staged(backends, record.id)
    assert backends.metadata.blob_refcount(record.digest) == 1


def test_redelivery_after_a_crash_between_copy_and_reference(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    backends.blobs.copy(f"staging/{record.id}", blob_key(record.digest))

    assert run(backends, record.id) is Outcome.DONE

    assert backends.metadata.blob_refcount(record.digest) == 1
    assert stored(backends, record.digest) == JSON_BODY


def test_deleted_while_pending_cleans_staging(backends: Backends) -> None:
    record = stage(backends, JSON_BODY, key="gone")
    assert backends.metadata.delete_objects("bucket", "gone") == 1

    assert run(backends, record.id) is Outcome.SKIPPED

    assert not staged(backends, record.id)
    assert not backends.blobs.exists(blob_key(record.digest))


def test_failed_record_is_left_alone(backends: Backends) -> None:
    record = stage(backends, b"{nope")
    assert run(backends, record.id) is Outcome.FAILED
    failed = backends.metadata.get_object(record.id)

    assert run(backends, record.id) is Outcome.SKIPPED
    assert backends.metadata.get_object(record.id) == failed


def test_blob_collected_under_us_is_written_again(backends: Backends) -> None:
    """A garbage collection deleting the bytes between our copy and our reference."""
    record = stage(backends, JSON_BODY)
    cas = blob_key(record.digest)
    original = backends.metadata

    class CollectFirst:
        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

        def finalize_ready_many(self, ready: Sequence[ReadyObject]) -> Any:
            # The bytes vanish just before the transaction: what a collection of an
            # unreferenced row for the same digest does.
            backends.blobs.delete(cas)
            results = original.finalize_ready_many(ready)
            assert [result.blob_created for result in results] == [True]
            collected.append(ready[0].object_id)
            return results

    collected: list[str] = []
    racing = dataclasses.replace(backends, metadata=CollectFirst())

    assert run(racing, record.id) is Outcome.DONE
    assert collected == [record.id]
    assert stored(backends, record.digest) == JSON_BODY


def test_store_outage_propagates_and_leaves_the_record_pending(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    flaky = dataclasses.replace(backends, blobs=FlakyBlobStore(backends.blobs, failures=1))

    with pytest.raises(BlobStoreUnavailableError):
        run(flaky, record.id)

    assert backends.metadata.get_object(record.id).status is ObjectStatus.PENDING
    assert staged(backends, record.id)
    assert run(flaky, record.id) is Outcome.DONE


def test_store_outage_during_a_large_inspection_is_transient(backends: Backends) -> None:
    data = b"[" + b"1," * SMALL_OBJECT_SIZE + b"1]"
    record = stage(backends, data)
    # The hashing read passes; every ranged read of the inspection fails.
    flaky = FlakyBlobStore(backends.blobs, failures=-1, healthy=1)
    failing = dataclasses.replace(backends, blobs=flaky)

    with pytest.raises(BlobStoreUnavailableError):
        run(failing, record.id)

    assert backends.metadata.get_object(record.id).status is ObjectStatus.PENDING


def test_a_batch_settles_each_object_on_its_own(backends: Backends) -> None:
    """Valid, invalid, deleted and failing objects in one call: each gets its own outcome,
    the valid ones made ready together."""
    good = stage(backends, JSON_BODY)
    twin = stage(backends, JSON_BODY)
    bad = stage(backends, b"{not json")
    other = stage(backends, b'{"other": true}')
    # The fourth read, the one of ``other``, meets an outage.
    flaky = dataclasses.replace(
        backends, blobs=FlakyBlobStore(backends.blobs, failures=1, healthy=3)
    )
    messages = [ProcessObject.for_object(r.id) for r in (good, bad, twin, other)]
    messages.append(ProcessObject.for_object(good.id))  # a duplicate delivery

    results = process_objects(flaky, messages)

    assert results[:3] == [Outcome.DONE, Outcome.FAILED, Outcome.DONE]
    assert isinstance(results[3], BlobStoreUnavailableError)
    assert results[4] is Outcome.DONE
    for record in (good, twin):
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
        assert not staged(backends, record.id)
    assert backends.metadata.get_object(bad.id).status is ObjectStatus.FAILED
    assert backends.metadata.blob_refcount(good.digest) == 2
    assert backends.metadata.get_object(other.id).status is ObjectStatus.PENDING
    assert process_objects(backends, messages[3:4]) == [Outcome.DONE]
    assert stored(backends, other.digest) == b'{"other": true}'


def test_a_failed_transaction_fails_only_the_objects_that_reached_it(backends: Backends) -> None:
    good, bad = stage(backends, JSON_BODY), stage(backends, b"{not json")
    original = backends.metadata

    class Down:
        def __getattr__(self, name: str) -> Any:
            return getattr(original, name)

        def finalize_ready_many(self, ready: Sequence[ReadyObject]) -> Any:
            raise MetadataUnavailableError("the database is down")

    down = dataclasses.replace(backends, metadata=Down())
    messages = [ProcessObject.for_object(good.id), ProcessObject.for_object(bad.id)]

    first, second = process_objects(down, messages)

    assert isinstance(first, MetadataUnavailableError)
    assert second is Outcome.FAILED
    assert backends.metadata.get_object(good.id).status is ObjectStatus.PENDING
    assert staged(backends, good.id)
    assert process_objects(backends, messages) == [Outcome.DONE, Outcome.SKIPPED]


def test_the_small_objects_of_a_batch_are_validated_in_one_call(backends: Backends) -> None:
    """Small objects go to ``inspect_many`` together; a large one is streamed through
    ``inspect`` on its own; refusals land on their own records."""
    from sangraha_core.kinds import inspect as inspect_in_process

    small = [stage(backends, JSON_BODY), stage(backends, png(), "image/png")]
    bad = stage(backends, b"[1,")
    large = stage(backends, b"[" + b"1," * SMALL_OBJECT_SIZE + b"1]")
    calls: list[list[str]] = []
    streamed: list[str] = []

    def inspect_many(jobs: Sequence[tuple[str, bytes]]) -> list[Any]:
        calls.append([content_type for content_type, _ in jobs])
        answers: list[Any] = []
        for content_type, data in jobs:
            try:
                answers.append(inspect_in_process(content_type, io.BytesIO(data)))
            except InvalidContentError as exc:
                answers.append(exc)
        return answers

    def inspect(content_type: str, file: Any) -> dict[str, Any]:
        streamed.append(content_type)
        return inspect_in_process(content_type, file)

    records = [small[0], large, bad, small[1]]
    results = process_objects(
        backends,
        [ProcessObject.for_object(r.id) for r in records],
        inspect=inspect,
        inspect_many=inspect_many,
    )

    assert results == [Outcome.DONE, Outcome.DONE, Outcome.FAILED, Outcome.DONE]
    assert calls == [["application/json", "application/json", "image/png"]]
    assert streamed == ["application/json"]
    assert backends.metadata.get_object(small[1].id).extracted["width"] == 3
    assert "JSON" in (backends.metadata.get_object(bad.id).error or "")


def test_validators_that_cannot_start_leave_a_batch_pending(backends: Backends) -> None:
    records = [stage(backends, JSON_BODY, key=f"k{n}.json") for n in range(3)]

    def no_validator(jobs: Sequence[tuple[str, bytes]]) -> list[Any]:
        raise ValidatorStartError("no validator process could be started")

    results = process_objects(
        backends, [ProcessObject.for_object(r.id) for r in records], inspect_many=no_validator
    )

    assert all(isinstance(r, ValidatorStartError) for r in results)
    for record in records:
        assert backends.metadata.get_object(record.id).status is ObjectStatus.PENDING
        assert staged(backends, record.id)


class _DeletesMany(FlakyBlobStore):
    """The file store seen as one that deletes many keys in a request (as S3 does): each
    request's keys are kept in ``requests``; with ``fail`` every request fails."""

    def __init__(self, inner: Any, *, fail: bool) -> None:
        super().__init__(inner, failures=0)
        self.fail = fail
        self.requests: list[list[str]] = []

    def delete_many(self, keys: Sequence[str]) -> None:
        self.requests.append(list(keys))
        if self.fail:
            raise BlobStoreUnavailableError("simulated outage")
        for key in keys:
            self.inner.delete(key)


@pytest.mark.parametrize("fail", [False, True], ids=["deleted", "outage"])
def test_a_batch_drops_its_staging_copies_in_one_request(backends: Backends, fail: bool) -> None:
    store = _DeletesMany(backends.blobs, fail=fail)
    records = [stage(backends, JSON_BODY, key=f"k{n}") for n in range(4)]
    gone = stage(backends, JSON_BODY, key="gone")
    backends.metadata.delete_objects("bucket", "gone")

    results = process_objects(
        dataclasses.replace(backends, blobs=store),
        [ProcessObject.for_object(r.id) for r in [*records, gone]],
    )

    assert results == [Outcome.DONE] * 4 + [Outcome.SKIPPED]
    assert store.requests == [[staging_key(r.id) for r in records]]
    # A failed request loses nothing: the copies are left for the collector to sweep.
    assert [staged(backends, r.id) for r in records] == [fail] * 4
    assert not staged(backends, gone.id)
    for record in records:
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
