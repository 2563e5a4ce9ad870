"""Two ``complete`` calls of one session at once (a client retrying a Complete that outlived
its read timeout): the work is done once and both answer the same record; a claim left by a
process that died is taken over; a failed completion leaves the session open to retry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sangraha_core import (
    Backends,
    BackendUnavailableError,
    InvalidPartError,
    ListQuery,
    ObjectRecord,
    Settings,
    UploadNotFoundError,
    Uploads,
    UploadStateError,
    UploadStatus,
    utcnow,
)
from sangraha_core.testing._metadata_buckets import at_once

ROUNDS = 25


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def pg_backends(tmp_path: Path, postgres_url: str) -> Iterator[Backends]:
    """Files and the in-process queue, with the metadata on PostgreSQL."""
    opened = Backends.from_settings(Settings(data_dir=tmp_path, metadata_url=postgres_url))
    try:
        yield opened
    finally:
        opened.close()


def race_completions(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1)
    for round_ in range(ROUNDS):
        key = f"race-{round_}.json"
        session = uploads.open("races", key, "application/json")
        body = b'{"round": %d}' % round_
        uploads.put_part(session.id, 1, [body], md5=True)
        answers: list[ObjectRecord] = []
        named: list[tuple[int, str | None]] = [(1, md5(body))]

        def complete(
            upload_id: str = session.id,
            named: list[tuple[int, str | None]] = named,
            answers: list[ObjectRecord] = answers,
        ) -> None:
            answers.append(uploads.complete(upload_id, parts=named))

        assert at_once(complete, complete) == [None, None]
        assert [a.id for a in answers] == [session.id, session.id]
        assert answers[0] == answers[1]
        done = backends.metadata.get_upload(session.id)
        assert (done.status, done.object_id) == (UploadStatus.COMPLETED, session.id)
        versions = backends.metadata.list_objects(ListQuery(bucket="races", prefix=key)).items
        assert [v.id for v in versions] == [session.id]
        assert versions[0].size == len(body)


def test_concurrent_completions_do_the_work_once_on_sqlite(backends: Backends) -> None:
    race_completions(backends)


@pytest.mark.postgres
def test_concurrent_completions_do_the_work_once_on_postgres(pg_backends: Backends) -> None:
    race_completions(pg_backends)


def test_a_failed_completion_leaves_the_session_open(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1)
    session = uploads.open("races", "a.json", "application/json")
    uploads.put_part(session.id, 1, [b"[1]"], md5=True)
    with pytest.raises(InvalidPartError):
        uploads.complete(session.id, parts=[(1, md5(b"other"))])
    reopened = backends.metadata.get_upload(session.id)
    assert (reopened.status, reopened.claimed_at) == (UploadStatus.OPEN, None)
    uploads.put_part(session.id, 1, [b"[2]"], md5=True)  # parts may change again
    assert uploads.complete(session.id, parts=[(1, md5(b"[2]"))]).id == session.id


def test_a_live_claim_is_waited_for_then_reported(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1, claim_wait=0.05)
    session = uploads.open("races", "a.json", "application/json")
    uploads.put_part(session.id, 1, [b"[1]"])
    # Another process holds the session (a complete under way).
    assert backends.metadata.claim_upload(session.id, stale_before=utcnow() - timedelta(hours=1))
    with pytest.raises(BackendUnavailableError):
        uploads.complete(session.id)
    with pytest.raises(UploadStateError):
        uploads.put_part(session.id, 1, [b"[2]"])
    with pytest.raises(UploadStateError):
        uploads.abort(session.id)
    assert backends.metadata.get_upload(session.id).status is UploadStatus.COMPLETING


def test_expiry_leaves_a_live_claim_alone_and_sweeps_a_dead_one(backends: Backends) -> None:
    session = Uploads(backends, ttl=-1).open("races", "a.json", "application/json")
    assert backends.metadata.claim_upload(session.id, stale_before=utcnow() - timedelta(hours=1))
    assert Uploads(backends).expire() == 0
    assert backends.metadata.get_upload(session.id).status is UploadStatus.COMPLETING
    assert Uploads(backends, claim_timeout=0).expire() == 1
    with pytest.raises(UploadNotFoundError):
        backends.metadata.get_upload(session.id)


def test_a_claim_left_by_a_dead_process_is_taken_over(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1)
    session = uploads.open("races", "a.json", "application/json")
    uploads.put_part(session.id, 1, [b"[1]"])
    assert backends.metadata.claim_upload(session.id, stale_before=utcnow() - timedelta(hours=1))
    # Its claimant died: once the claim is stale, a repeated complete finishes the work.
    record = Uploads(backends, min_part_size=1, claim_timeout=0).complete(session.id)
    assert record.id == session.id
    assert backends.metadata.get_upload(session.id).status is UploadStatus.COMPLETED


def test_a_session_whose_winner_aborted_it_answers_so(backends: Backends) -> None:
    uploads = Uploads(backends, min_part_size=1)
    session = uploads.open("races", "a.json", "application/json")
    uploads.put_part(session.id, 1, [b"[1]"])
    backends.metadata.finish_upload(session.id, status="aborted", object_id=None)
    with pytest.raises(UploadStateError):
        uploads.complete(session.id)
