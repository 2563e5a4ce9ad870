"""``Ingest``, the core of the write path, called directly: the steps HTTP cannot reach."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sangraha_core import (
    Backends,
    ChecksumMismatchError,
    Digest,
    Ingest,
    InvalidRequestError,
    ObjectNotFoundError,
    ObjectStatus,
    ObjectTooLargeError,
    QueueUnavailableError,
    UnsupportedContentTypeError,
    media_type,
    staging_key,
)
from tests.receiver._support import JSON_BODY, BackendsFactory, drain, records, staging_keys


def test_media_type_ignores_case_and_parameters() -> None:
    assert media_type(" Application/JSON ; charset=utf-8") == ("application/json", "json")
    with pytest.raises(UnsupportedContentTypeError, match="image/webp"):
        media_type("text/html")


def test_accept_streams_once_and_counts(embedded: Backends) -> None:
    consumed: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for part in (b'{"a":', b"", b" 1}"):
            consumed.append(part)
            yield part

    record = Ingest(embedded).accept("bucket-ok", "a.json", "application/json", chunks())

    assert consumed == [b'{"a":', b"", b" 1}"]
    assert record.size == 8
    assert record.digest == Digest.of(b'{"a": 1}')
    assert b"".join(embedded.blobs.get(staging_key(record.id))) == b'{"a": 1}'


def test_too_large_stops_reading_at_the_limit(make_embedded: BackendsFactory) -> None:
    backends = make_embedded(max_object_size=10)
    pulled = 0

    def chunks() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b"123456"

    with pytest.raises(ObjectTooLargeError) as caught:
        Ingest(backends).accept("bucket-ok", "k", "application/json", chunks())

    assert caught.value.limit == 10
    assert pulled == 2
    assert staging_keys(backends) == []


def test_mismatch_removes_the_staged_copy(embedded: Backends) -> None:
    with pytest.raises(ChecksumMismatchError):
        Ingest(embedded).accept(
            "bucket-ok",
            "k",
            "application/json",
            [JSON_BODY],
            declared_digest=Digest.of(b"x"),
        )
    assert staging_keys(embedded) == []


def test_unconfirmed_publish_undoes_record_and_staging(
    embedded: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(message: object) -> None:
        raise QueueUnavailableError("broker said no")

    monkeypatch.setattr(embedded.queue, "publish", refuse)
    with pytest.raises(QueueUnavailableError):
        Ingest(embedded).accept("bucket-ok", "k", "application/json", [JSON_BODY])

    assert records(embedded, "bucket-ok") == []
    assert staging_keys(embedded) == []


def test_concurrent_retry_with_the_same_key_keeps_one_version(
    embedded: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = Ingest(embedded)
    first = ingest.accept("bucket-ok", "k", "application/json", [JSON_BODY], idempotency_key="idem")
    # The retry looked the key up before the first request had remembered it.
    monkeypatch.setattr(embedded.metadata, "lookup_idempotency_key", lambda scope, key: None)

    second = ingest.accept(
        "bucket-ok", "k", "application/json", [JSON_BODY], idempotency_key="idem"
    )

    assert second == first
    assert [r.id for r in records(embedded, "bucket-ok")] == [first.id]
    assert staging_keys(embedded) == [staging_key(first.id)]


def test_replay_of_a_deleted_object_is_refused(embedded: Backends) -> None:
    ingest = Ingest(embedded)
    ingest.accept("bucket-ok", "k", "application/json", [JSON_BODY], idempotency_key="idem")
    ingest.delete("bucket-ok", "k")

    with pytest.raises(InvalidRequestError, match="deleted"):
        ingest.accept("bucket-ok", "k", "application/json", [JSON_BODY], idempotency_key="idem")


def test_wait_returns_when_processed_or_at_the_timeout(embedded: Backends) -> None:
    ingest = Ingest(embedded)
    record = ingest.accept("bucket-ok", "k", "application/json", [JSON_BODY])

    started = time.monotonic()
    assert ingest.wait(record, 0.2).status is ObjectStatus.PENDING
    assert 0.2 <= time.monotonic() - started < 1.0

    embedded.metadata.mark_failed(record.id, "bad")
    started = time.monotonic()
    assert ingest.wait(record, 5).status is ObjectStatus.FAILED
    assert time.monotonic() - started < 0.5
    assert len(drain(embedded)) == 1


def test_delete_of_nothing_is_not_found(embedded: Backends) -> None:
    with pytest.raises(ObjectNotFoundError):
        Ingest(embedded).delete("bucket-ok", "missing")
