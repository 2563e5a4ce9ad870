"""The worker loop on embedded backends: settling, retries, dead letters, hooks, lifecycle."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sangraha_core import (
    Backends,
    FailureKind,
    Ingest,
    ListQuery,
    ObjectRecord,
    ObjectStatus,
    blob_key,
    process_objects,
    utcnow,
)
from sangraha_core.kinds import InspectorPool
from sangraha_worker import FailedJobs, JobContext, Worker
from tests.worker._staging import (
    JSON_BODY,
    FlakyBlobStore,
    pdf,
    png,
    refcounts_match,
    stage,
    staged,
    stored,
)

FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "burst_idle": 0.3,
    "retry_backoff": 0.02,
    "max_retry_delay": 0.2,
}


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def all_records(backends: Backends, bucket: str = "bucket") -> list[ObjectRecord]:
    records: list[ObjectRecord] = []
    cursor = None
    while True:
        page = backends.metadata.list_objects(ListQuery(bucket=bucket, limit=1000, cursor=cursor))
        records.extend(page.items)
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def test_burst_processes_everything_and_counts(backends: Backends) -> None:
    done_before = metric("sangraha_worker_jobs_total", outcome="done")
    records = [stage(backends, JSON_BODY), stage(backends, png(), "image/png")]
    records.append(stage(backends, pdf(), "application/pdf"))

    completed = Worker(backends, burst=True, concurrency=2, **FAST).run_check()

    assert completed == 3
    for record in records:
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
        assert not staged(backends, record.id)
    assert metric("sangraha_worker_jobs_total", outcome="done") == done_before + 3
    assert backends.queue.depth() == 0


def _batch_sizes(monkeypatch: pytest.MonkeyPatch, cls: type, method: str) -> list[int]:
    """The length of the one argument of each call to ``cls.method`` from now on."""
    sizes: list[int] = []
    real = getattr(cls, method)

    def counting(self: Any, batch: Any) -> Any:
        sizes.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(cls, method, counting)
    return sizes


@pytest.mark.parametrize(("batch", "largest"), [(1, 1), (8, 8)])
def test_waiting_jobs_are_made_ready_together(
    backends: Backends, monkeypatch: pytest.MonkeyPatch, batch: int, largest: int
) -> None:
    """A thread takes the jobs already queued, up to ``batch``, into one transaction."""
    records = [stage(backends, JSON_BODY, key=f"k{n}.json") for n in range(20)]
    records.append(stage(backends, b"{not json", key="bad.json"))
    sizes = _batch_sizes(monkeypatch, type(backends.metadata), "finalize_ready_many")
    validated = _batch_sizes(monkeypatch, InspectorPool, "inspect_many")
    monkeypatch.setattr(InspectorPool, "inspect", None)  # small objects never go one by one
    worker = Worker(backends, burst=True, concurrency=1, batch=batch, **FAST)

    with pytest.raises(FailedJobs):
        worker.run_check()

    assert worker.jobs_complete == 20
    assert sum(sizes) == 20
    assert max(sizes) == largest
    assert sum(validated) == 21
    assert max(validated) == largest
    for record in records[:-1]:
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
        assert not staged(backends, record.id)
    assert backends.metadata.get_object(records[-1].id).status is ObjectStatus.FAILED
    assert backends.metadata.blob_refcount(records[0].digest) == 20
    assert backends.queue.depth() == 0


def test_invalid_content_is_acked_not_retried(backends: Backends, corpus_dir: Path) -> None:
    invalid = sorted(corpus_dir.glob("n_*.json"))[-3:]
    records = [stage(backends, path.read_bytes(), key=path.name) for path in invalid]
    worker = Worker(backends, burst=True, **FAST)

    with pytest.raises(FailedJobs) as caught:
        worker.run_check()

    assert caught.value.count == 3
    assert {r.settled for r in caught.value.job_results} == {"ack"}
    assert worker.jobs_retried == 0
    assert backends.queue.dead_letters() == []
    for record in records:
        failed = backends.metadata.get_object(record.id)
        assert failed.status is ObjectStatus.FAILED and failed.error
        assert not backends.blobs.exists(blob_key(record.digest))


def test_transient_fault_is_retried_then_ready(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    flaky = FlakyBlobStore(backends.blobs, failures=2)
    worker = Worker(dataclasses.replace(backends, blobs=flaky), burst=True, max_tries=5, **FAST)

    assert worker.run_check() == 1

    assert worker.jobs_retried == 2
    assert flaky.calls == 3
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    assert stored(backends, record.digest) == JSON_BODY


def test_an_outage_longer_than_every_attempt_spends_none_of_them(backends: Backends) -> None:
    backend_retries_before = metric("sangraha_worker_retries_by_cause_total", cause="backend")
    record = stage(backends, JSON_BODY)
    flaky = FlakyBlobStore(backends.blobs, failures=8)
    worker = Worker(dataclasses.replace(backends, blobs=flaky), burst=True, max_tries=3, **FAST)

    assert worker.run_check() == 1

    assert flaky.calls == 9
    assert worker.jobs_retried == 8
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    assert stored(backends, record.digest) == JSON_BODY
    assert backends.queue.dead_letters() == []
    assert not worker.in_outage
    assert (
        metric("sangraha_worker_retries_by_cause_total", cause="backend")
        == backend_retries_before + 8
    )


def test_unexpected_error_is_bounded_too(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)

    class Broken(FlakyBlobStore):
        def _trip(self) -> None:
            self.calls += 1
            raise RuntimeError("driver bug")

    dead_before = metric("sangraha_worker_dead_letters_total")
    broken = Broken(backends.blobs, failures=-1)
    worker = Worker(dataclasses.replace(backends, blobs=broken), burst=True, max_tries=3, **FAST)

    with pytest.raises(FailedJobs) as caught:
        worker.run_check()

    assert [r.settled for r in caught.value.job_results] == ["dead_letter"]
    assert broken.calls == 3
    assert worker.jobs_retried == 2
    failed = backends.metadata.get_object(record.id)
    assert failed.status is ObjectStatus.FAILED
    # The record's reason is read by API clients: no Python class name or repr in it.
    assert failed.error == (
        "gave up after 3 attempts: the worker failed unexpectedly (its log has the error); "
        "a replay may run it again"
    )
    assert failed.failure_kind is FailureKind.RETRIABLE
    assert staged(backends, record.id), "a replay needs the staged bytes"
    dead = backends.queue.dead_letters()
    assert [(m.object_id, m.attempt) for m in dead] == [(record.id, 3)]
    assert metric("sangraha_worker_dead_letters_total") == dead_before + 1


def test_hooks_see_every_job(backends: Backends) -> None:
    stage(backends, JSON_BODY)
    stage(backends, b"{broken")
    started: list[str] = []
    ended: list[tuple[str, str | None, str | None]] = []
    lifecycle: list[str] = []

    def on_start(ctx: JobContext) -> None:
        started.append(ctx.message.object_id)
        ctx.extra["seen"] = True

    def after_end(ctx: JobContext) -> None:
        assert ctx.extra["seen"] and ctx.duration >= 0
        ended.append((ctx.message.object_id, ctx.outcome and ctx.outcome.value, ctx.settled))

    worker = Worker(
        backends,
        burst=True,
        on_startup=lambda w: lifecycle.append("up"),
        on_shutdown=lambda w: lifecycle.append("down"),
        on_job_start=on_start,
        after_job_end=after_end,
        **FAST,
    )
    with pytest.raises(FailedJobs):
        worker.run_check()

    assert lifecycle == ["up", "down"]
    assert sorted(started) == sorted(e[0] for e in ended)
    assert sorted((e[1], e[2]) for e in ended) == [("done", "ack"), ("failed", "ack")]


def test_start_and_stop_in_the_background(backends: Backends) -> None:
    worker = Worker(backends, concurrency=2, **FAST)
    worker.start()
    try:
        assert worker.is_healthy()
        record = stage(backends, JSON_BODY)
        deadline = time.monotonic() + 10
        while backends.metadata.get_object(record.id).status is ObjectStatus.PENDING:
            assert time.monotonic() < deadline, "not processed in time"
            time.sleep(0.02)
    finally:
        assert worker.stop(timeout=10)
    assert not worker.is_healthy()
    with pytest.raises(RuntimeError):
        worker.start()


def test_stop_waits_for_the_job_in_progress(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    entered = threading.Event()
    release = threading.Event()

    def slow_start(ctx: JobContext) -> None:
        entered.set()
        release.wait(5)

    worker = Worker(backends, on_job_start=slow_start, **FAST)
    worker.start()
    assert entered.wait(5)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    time.sleep(0.2)
    assert stopper.is_alive(), "stop returned with a job in progress"
    release.set()
    stopper.join(5)
    assert not stopper.is_alive()
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_reconciler_republishes_a_stuck_record(backends: Backends) -> None:
    republished_before = metric("sangraha_worker_republished_total")
    # Accepted, but the message was lost (an in-memory queue across a restart).
    record = stage(backends, JSON_BODY, publish=False)
    worker = Worker(backends, burst=True, pending_timeout=0.1, **FAST)
    assert worker.reconciler.run_once() == 0  # too young yet
    time.sleep(0.2)

    assert worker.reconciler.run_once() == 1
    assert worker.reconciler.run_once() == 0  # touched: left alone for another timeout
    assert worker.run_check() == 1

    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    assert metric("sangraha_worker_republished_total") == republished_before + 1


def test_reconciler_runs_periodically(backends: Backends) -> None:
    record = stage(backends, JSON_BODY, publish=False)
    worker = Worker(backends, reconcile_interval=0.1, pending_timeout=0.1, **FAST)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while backends.metadata.get_object(record.id).status is ObjectStatus.PENDING:
            assert time.monotonic() < deadline, "the reconciler never republished it"
            time.sleep(0.05)
    finally:
        worker.stop(timeout=10)


def test_recover_on_start_publishes_every_pending_record(backends: Backends) -> None:
    records = [stage(backends, JSON_BODY, publish=False) for _ in range(3)]

    assert Worker(backends, burst=True, recover_on_start=True, **FAST).run_check() == 3

    for record in records:
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    assert backends.metadata.blob_refcount(records[0].digest) == 3


def test_collector_deletes_unreferenced_blobs_only(backends: Backends) -> None:
    kept = stage(backends, JSON_BODY, key="kept")
    dropped = stage(backends, png(), "image/png", key="dropped")
    shared_one = stage(backends, pdf(), "application/pdf", key="shared-1")
    shared_two = stage(backends, pdf(), "application/pdf", key="shared-2")
    assert Worker(backends, burst=True, **FAST).run_check() == 4
    backends.metadata.delete_objects("bucket", "dropped")
    backends.metadata.delete_objects("bucket", "shared-1")
    worker = Worker(backends, **FAST)

    assert worker.collector.collect_blobs() == 1

    assert not backends.blobs.exists(blob_key(dropped.digest))
    assert stored(backends, kept.digest) == JSON_BODY
    assert backends.blobs.exists(blob_key(shared_two.digest))
    assert shared_one.digest == shared_two.digest
    assert backends.metadata.blob_refcount(shared_two.digest) == 1
    assert worker.collector.collect_blobs() == 0


def test_collector_sweeps_orphaned_staging_blobs(backends: Backends) -> None:
    pending = stage(backends, JSON_BODY, publish=False)
    backends.blobs.put("staging/0123456789abcdef0123456789abcdef", b"no record")
    worker = Worker(backends, staging_grace=3600, **FAST)

    assert worker.collector.sweep_staging() == 0  # everything is young

    worker.collector.staging_grace = 0
    time.sleep(0.01)
    assert worker.collector.sweep_staging() == 1
    assert [b.key for b in backends.blobs.list("staging/")] == [f"staging/{pending.id}"]


def test_four_threads_many_duplicates(backends: Backends) -> None:
    ingest = Ingest(backends)
    bodies = [b'{"n": %d}' % (i % 17) for i in range(200)]
    records = [
        ingest.accept("bucket", f"k{i:03d}", "application/json", [body])
        for i, body in enumerate(bodies)
    ]

    assert Worker(backends, burst=True, concurrency=4, **FAST).run_check() == 200

    final = all_records(backends)
    assert Counter(r.status for r in final) == {ObjectStatus.READY: 200}
    assert refcounts_match(backends, records) == {}
    assert len(list(backends.blobs.list("blobs/"))) == 17
    assert list(backends.blobs.list("staging/")) == []


def test_consumer_failure_backs_off_and_recovers(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    real = backends.queue
    opened: list[float] = []

    class FlakyQueue:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def consumer(self, *, prefetch: int = 1) -> Any:
            opened.append(time.monotonic())
            if len(opened) <= 2:
                raise ConnectionError("broker down")
            return real.consumer(prefetch=prefetch)

    flaky = dataclasses.replace(backends, queue=FlakyQueue())
    assert Worker(flaky, burst=True, concurrency=1, **FAST).run_check() == 1

    assert len(opened) == 3
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_worker_validates_its_arguments(backends: Backends) -> None:
    with pytest.raises(ValueError):
        Worker(backends, concurrency=0)
    with pytest.raises(ValueError):
        Worker(backends, max_deliveries=0)
    with pytest.raises(ValueError):
        Worker(backends, batch=0)
    worker = Worker(backends, max_tries=4)
    assert worker.concurrency == backends.settings.worker_concurrency
    assert worker.batch == backends.settings.worker_batch == 16
    assert worker.max_retry_delay == backends.settings.max_retry_delay == 300.0
    assert worker.max_deliveries == backends.settings.max_deliveries == 5
    assert [worker.retry_delay(n) for n in (1, 2, 3, 10)] == [1.0, 2.0, 4.0, 300.0]
    assert [worker.outage_delay(n) for n in (1, 2, 9, 10, 10_000)] == [
        1.0,
        2.0,
        256.0,
        300.0,
        300.0,
    ]


def test_reconciler_cutoff_is_in_the_past(backends: Backends) -> None:
    fresh = stage(backends, JSON_BODY, publish=False)
    assert backends.metadata.pending_before(utcnow() - timedelta(seconds=60)) == []
    assert [r.id for r in backends.metadata.pending_before(utcnow())] == [fresh.id]


@pytest.mark.parametrize("heartbeat", [True, False])
def test_a_long_job_is_not_published_again_while_it_runs(
    backends: Backends, monkeypatch: pytest.MonkeyPatch, heartbeat: bool
) -> None:
    """The heartbeat keeps a running job's record fresh; without it the reconciler would
    queue the same object again while the first delivery still processes it."""
    from sangraha_worker import worker as worker_module

    if not heartbeat:
        monkeypatch.setattr(Worker, "_heartbeat", lambda self: 0)
    real = process_objects
    published: list[str] = []
    publish = backends.queue.publish

    def counting_publish(message: Any) -> None:
        published.append(message.object_id)
        publish(message)

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(2.0)
        return real(*args, **kwargs)

    record = stage(backends, JSON_BODY)
    monkeypatch.setattr(worker_module, "process_objects", slow)
    monkeypatch.setattr(backends.queue, "publish", counting_publish)
    worker = Worker(backends, pending_timeout=0.6, reconcile_interval=0.1, **FAST)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while backends.metadata.get_object(record.id).status is ObjectStatus.PENDING:
            assert time.monotonic() < deadline, "not processed in time"
            time.sleep(0.05)
    finally:
        assert worker.stop(timeout=10)
    if heartbeat:
        assert published == []
    else:
        assert published, "the reconciler should have queued the running job again"
