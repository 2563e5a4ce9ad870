"""The worker on the production backends: S3 (moto server), PostgreSQL and RabbitMQ.

The crash test runs ``python -m sangraha_worker`` as a process of its own, kills it with
SIGKILL in the middle of a batch, starts it again, and checks that every accepted object
ended ready exactly once.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sangraha_core import (
    Backends,
    FailureKind,
    Ingest,
    ListQuery,
    ObjectRecord,
    ObjectStatus,
    Settings,
    blob_key,
)
from sangraha_core.queue.amqp import AmqpQueue
from sangraha_worker import FailedJobs, Worker, replay_failures
from tests.worker._staging import FlakyBlobStore, pdf, png, refcounts_match, stage, stored

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.s3]

# RabbitMQ's shortest retry tier is a second: a burst must stay open longer than that.
AMQP: dict[str, Any] = {"poll_interval": 0.1, "burst_idle": 2.5, "retry_backoff": 0.02}


@pytest.fixture
def settings(s3_url: str, postgres_url: str, amqp_url: str, queue_prefix: str) -> Settings:
    return Settings(
        blob_url=s3_url,
        metadata_url=postgres_url,
        queue_url=amqp_url,
        queue_prefix=queue_prefix,
        data_dir=Path("/nonexistent"),
    )


@pytest.fixture
def prod(settings: Settings) -> Iterator[Backends]:
    backends = Backends.from_settings(settings)
    yield backends
    queue = backends.queue
    if isinstance(queue, AmqpQueue):
        queue.delete_topology()
    backends.close()


def records_in(backends: Backends, bucket: str, status: ObjectStatus | None = None) -> list[Any]:
    found: list[ObjectRecord] = []
    cursor = None
    while True:
        page = backends.metadata.list_objects(
            ListQuery(bucket=bucket, status=status, limit=1000, cursor=cursor)
        )
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def unique(tag: str) -> bytes:
    """JSON nobody else in this run's shared database has stored."""
    return b'{"tag": "%s", "run": "%s"}' % (tag.encode(), uuid.uuid4().hex.encode())


def test_pipeline_on_production_backends(prod: Backends) -> None:
    body = unique("dup")
    bucket = "prod-" + uuid.uuid4().hex[:8]
    records = [
        stage(prod, body, bucket=bucket, key="a"),
        stage(prod, body, bucket=bucket, key="b"),
        stage(prod, png(7, 9), "image/png", bucket=bucket, key="c"),
        stage(prod, pdf(2), "application/pdf", bucket=bucket, key="d"),
    ]
    invalid = stage(prod, b'{"unterminated": ', bucket=bucket, key="e")

    with pytest.raises(FailedJobs) as caught:
        Worker(prod, burst=True, concurrency=2, **AMQP).run_check()

    assert [r.object_id for r in caught.value.job_results] == [invalid.id]
    for record in records:
        ready = prod.metadata.get_object(record.id)
        assert ready.status is ObjectStatus.READY, ready.error
    assert prod.metadata.get_object(records[2].id).extracted["width"] == 7
    assert prod.metadata.blob_refcount(records[0].digest) == 2
    assert stored(prod, records[0].digest) == body
    assert prod.metadata.get_object(invalid.id).status is ObjectStatus.FAILED
    assert not prod.blobs.exists(blob_key(invalid.digest))
    assert list(prod.blobs.list("staging/")) == []


class _Broken(FlakyBlobStore):
    """Every read fails with an error no backend fault explains: a bug."""

    def _trip(self) -> None:
        self.calls += 1
        raise RuntimeError("driver bug")


def test_retry_dead_letter_and_replay_through_rabbitmq(prod: Backends) -> None:
    bucket = "retry-" + uuid.uuid4().hex[:8]
    recovers = stage(prod, unique("recovers"), bucket=bucket)
    flaky = FlakyBlobStore(prod.blobs, failures=2)
    # Two backend faults and a single attempt allowed: the faults spend none of it.
    worker = Worker(dataclasses.replace(prod, blobs=flaky), burst=True, max_tries=1, **AMQP)
    assert worker.run_check() == 1
    assert worker.jobs_retried == 2
    assert prod.metadata.get_object(recovers.id).status is ObjectStatus.READY

    doomed = stage(prod, unique("doomed"), bucket=bucket)
    broken = _Broken(prod.blobs, failures=-1)
    worker = Worker(dataclasses.replace(prod, blobs=broken), burst=True, max_tries=2, **AMQP)
    with pytest.raises(FailedJobs):
        worker.run_check()

    assert broken.calls == 2
    failed = prod.metadata.get_object(doomed.id)
    assert failed.status is ObjectStatus.FAILED
    assert (failed.error or "").startswith("gave up after 2 attempts")
    assert failed.failure_kind is FailureKind.RETRIABLE

    # The bug is fixed: a replay takes the dead letter and the job ends ready.
    result = replay_failures(prod)
    assert (result.dead_letters, result.requeued, result.dropped) == (1, 1, 0)
    assert prod.metadata.get_object(doomed.id).status is ObjectStatus.PENDING
    assert Worker(prod, burst=True, **AMQP).run_check() == 1
    assert prod.metadata.get_object(doomed.id).status is ObjectStatus.READY
    assert prod.queue.dead_letters() == []


def test_a_job_rabbitmq_redelivered_after_each_death_is_failed(prod: Backends) -> None:
    """The broker's ``x-delivery-count`` reaches the worker: a job whose consumer died on
    every delivery is not processed again but failed, with the reason, and dead-lettered."""
    record = stage(prod, unique("poison"), bucket="poison-" + uuid.uuid4().hex[:8])
    for _ in range(2):
        consumer = prod.queue.consumer()
        assert consumer.receive(5.0) is not None
        consumer.close()  # what the broker sees of a worker killed mid-job

    with pytest.raises(FailedJobs) as caught:
        Worker(prod, burst=True, max_deliveries=2, **AMQP).run_check()

    assert [r.settled for r in caught.value.job_results] == ["dead_letter"]
    failed = prod.metadata.get_object(record.id)
    assert failed.status is ObjectStatus.FAILED
    assert failed.error == "processing was interrupted 2 times (the worker died each time)"
    assert failed.failure_kind is FailureKind.RETRIABLE
    deadline = time.monotonic() + 10
    dead: list[Any] = []
    while not dead and time.monotonic() < deadline:
        dead = prod.queue.dead_letters()
        time.sleep(0.1)
    assert [m.object_id for m in dead] == [record.id]


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SANGRAHA_BLOB_URL": settings.blob_url,
        "SANGRAHA_METADATA_URL": settings.metadata_url,
        "SANGRAHA_QUEUE_URL": settings.queue_url,
        "SANGRAHA_QUEUE_PREFIX": settings.queue_prefix,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sangraha_worker",
                "--concurrency",
                "4",
                "--reconcile-interval",
                "0",
                "--gc-interval",
                "0",
            ],
            env=env,
            stdout=out,
            stderr=out,
        )


def _wait_until(condition: Any, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"timed out waiting for {what}; worker log:\n{tail}")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_batch_then_restart(prod: Backends, settings: Settings, tmp_path: Path) -> None:
    bucket = "crash-" + uuid.uuid4().hex[:8]
    ingest = Ingest(prod)
    bodies = [unique(f"body-{i % 25}") for i in range(25)]
    accepted = [
        ingest.accept(bucket, f"k{i:03d}", "application/json", [bodies[i % 25]]) for i in range(300)
    ]
    log = tmp_path / "worker.log"

    def ready() -> int:
        return len(records_in(prod, bucket, ObjectStatus.READY))

    first = _start_worker(settings, log)
    try:
        _wait_until(lambda: ready() >= 20, 120, "the first jobs", log)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    done_at_kill = ready()
    assert done_at_kill < len(accepted), "the worker finished before it could be killed"

    second = _start_worker(settings, log)
    try:
        _wait_until(lambda: ready() == len(accepted), 180, "every object to be ready", log)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            code = second.wait(30)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
            raise
    assert code == 0, log.read_text(errors="replace")[-3000:]

    final = records_in(prod, bucket)
    assert len(final) == len(accepted)
    assert {r.status for r in final} == {ObjectStatus.READY}
    assert refcounts_match(prod, accepted) == {}
    for digest in {r.digest for r in accepted}:
        assert prod.blobs.exists(blob_key(digest))
    assert list(prod.blobs.list("staging/")) == []
    assert prod.queue.dead_letters() == []
