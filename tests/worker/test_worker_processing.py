"""``process_object`` on its own: every branch of step 4 of an upload's life."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sangraha_core import (
    SMALL_OBJECT_SIZE,
    Backends,
    BlobStoreUnavailableError,
    Digest,
    ObjectStatus,
    Outcome,
    ProcessObject,
    blob_key,
    process_object,
)
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

        def finalize_ready(self, object_id: str, **kwargs: Any) -> Any:
            # The bytes vanish just before the transaction: what a collection of an
            # unreferenced row for the same digest does.
            backends.blobs.delete(cas)
            result = original.finalize_ready(object_id, **kwargs)
            assert result.blob_created
            return result

    racing = dataclasses.replace(backends, metadata=CollectFirst())

    assert run(racing, record.id) is Outcome.DONE
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
