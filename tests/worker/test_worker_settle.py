"""The settle rules for outages, bugs and deaths, and what keeps failed work replayable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from sangraha_core import (
    Backends,
    FailureKind,
    MetadataUnavailableError,
    ObjectRecord,
    ObjectStatus,
    Outcome,
    ProcessObject,
    process_object,
    process_objects,
    utcnow,
)
from sangraha_core.metadata import MetadataStore
from sangraha_worker import FailedJobs, JobContext, Worker, replay_failures
from tests.worker._staging import JSON_BODY, FlakyBlobStore, stage, staged

FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "burst_idle": 0.3,
    "retry_backoff": 0.02,
    "max_retry_delay": 0.2,
}


class FlakyMetadata:
    """A metadata store whose ``method`` fails ``failures`` times as if the database were
    down; otherwise the one it wraps."""

    def __init__(self, inner: MetadataStore, method: str, failures: int) -> None:
        self.inner = inner
        self.method = method
        self.failures = failures
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if name != self.method:
            return real

        def flaky(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls <= self.failures:
                raise MetadataUnavailableError(f"simulated outage #{self.calls}")
            return real(*args, **kwargs)

        return flaky


class Broken(FlakyBlobStore):
    """Reads fail with an error no backend fault explains: a bug."""

    def _trip(self) -> None:
        self.calls += 1
        raise RuntimeError("driver bug")


def attempts_seen(worker_kwargs: dict[str, Any]) -> tuple[list[int], dict[str, Any]]:
    seen: list[int] = []

    def on_start(ctx: JobContext) -> None:
        seen.append(ctx.message.attempt)

    return seen, {**worker_kwargs, "on_job_start": on_start}


def test_a_blob_store_outage_spends_no_attempt(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    flaky = FlakyBlobStore(backends.blobs, failures=5)
    seen, kwargs = attempts_seen(FAST)
    worker = Worker(dataclasses.replace(backends, blobs=flaky), burst=True, max_tries=1, **kwargs)

    assert worker.run_check() == 1

    assert seen == [1] * 6, "a try a backend fault stopped must not advance the attempt"
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_a_metadata_outage_spends_no_attempt(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    flaky = FlakyMetadata(backends.metadata, "get_objects", failures=4)
    seen, kwargs = attempts_seen(FAST)
    worker = Worker(
        dataclasses.replace(backends, metadata=flaky), burst=True, max_tries=1, **kwargs
    )

    assert worker.run_check() == 1

    assert seen == [1] * 5
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_a_failing_touch_before_processing_is_an_outage_not_a_death(backends: Backends) -> None:
    """The touch of a message that queued long runs before processing: a database down
    then must settle the delivery as a retry, never leave it unsettled (which would count
    as a delivery the worker died on)."""
    record = stage(backends, JSON_BODY, publish=False)
    old = ProcessObject.for_object(record.id).model_copy(
        update={"enqueued_at": utcnow() - timedelta(hours=1)}
    )
    backends.queue.publish(old)
    flaky = FlakyMetadata(backends.metadata, "touch", failures=3)
    counts: list[int] = []
    worker = Worker(
        dataclasses.replace(backends, metadata=flaky),
        burst=True,
        max_tries=1,
        on_job_start=lambda ctx: counts.append(ctx.delivery_count),
        **FAST,
    )

    assert worker.run_check() == 1

    assert counts and set(counts) == {0}
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_the_outage_delay_grows_with_the_streak_and_a_success_ends_it(backends: Backends) -> None:
    worker = Worker(backends, retry_backoff=0.5, max_retry_delay=300)
    assert [worker.outage_delay(n) for n in (1, 2, 3, 8, 9, 10, 99)] == [
        1.0,
        2.0,
        4.0,
        128.0,
        256.0,
        300.0,
        300.0,
    ]
    stage(backends, JSON_BODY)
    flaky = FlakyBlobStore(backends.blobs, failures=2)
    delays: list[float] = []
    retry = Worker.outage_delay

    def recording(self: Worker, streak: int) -> float:
        delays.append(retry(self, streak))
        return delays[-1]

    worker = Worker(dataclasses.replace(backends, blobs=flaky), burst=True, **FAST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Worker, "outage_delay", recording)
        assert worker.run_check() == 1
    assert delays == [0.04, 0.08]
    assert not worker.in_outage


def test_a_retry_touches_the_record_so_the_reconciler_leaves_it(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    flaky = FlakyBlobStore(backends.blobs, failures=-1)
    worker = Worker(dataclasses.replace(backends, blobs=flaky), concurrency=1, **FAST)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while flaky.calls < 2:
            assert time.monotonic() < deadline, "never tried"
            time.sleep(0.02)
        assert worker.in_outage
        touched = backends.metadata.get_object(record.id).updated_at
        assert touched > record.updated_at
    finally:
        assert worker.stop(timeout=10)


def test_the_reconciler_waits_while_a_backend_is_down(backends: Backends) -> None:
    stuck = stage(backends, JSON_BODY, publish=False)
    flaky = FlakyBlobStore(backends.blobs, failures=1)
    worker = Worker(
        dataclasses.replace(backends, blobs=flaky), burst=True, pending_timeout=0.05, **FAST
    )
    time.sleep(0.1)
    worker._fault_streak = 1  # as after a job a backend fault stopped
    worker._last_fault = time.monotonic()
    assert worker._reconcile() == 0
    worker._fault_streak = 0  # a job went through: retries of the outage may still wait
    assert worker._reconcile() == 0
    assert backends.queue.depth() == 0
    time.sleep(worker.max_retry_delay)
    assert worker._reconcile() == 1
    assert worker.run_check() == 1
    assert backends.metadata.get_object(stuck.id).status is ObjectStatus.READY


def test_a_job_the_worker_died_on_each_time_is_failed_not_processed(
    backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sangraha_worker import worker as worker_module

    record = stage(backends, JSON_BODY)
    for _ in range(3):
        consumer = backends.queue.consumer()
        assert consumer.receive(1.0) is not None
        consumer.close()  # the worker died before settling
    processed: list[str] = []
    real = process_objects

    def counting(b: Backends, messages: Sequence[ProcessObject], **kwargs: Any) -> Any:
        processed.extend(message.object_id for message in messages)
        return real(b, messages, **kwargs)

    monkeypatch.setattr(worker_module, "process_objects", counting)

    with pytest.raises(FailedJobs) as caught:
        Worker(backends, burst=True, max_deliveries=3, **FAST).run_check()

    assert processed == []
    assert [r.settled for r in caught.value.job_results] == ["dead_letter"]
    failed = backends.metadata.get_object(record.id)
    assert failed.status is ObjectStatus.FAILED
    assert failed.error == "processing was interrupted 3 times (the worker died each time)"
    assert failed.failure_kind is FailureKind.RETRIABLE
    assert [m.object_id for m in backends.queue.dead_letters()] == [record.id]
    assert staged(backends, record.id)


def test_fewer_deaths_than_the_limit_are_processed(backends: Backends) -> None:
    record = stage(backends, JSON_BODY)
    for _ in range(2):
        consumer = backends.queue.consumer()
        assert consumer.receive(1.0) is not None
        consumer.close()
    assert Worker(backends, burst=True, max_deliveries=3, **FAST).run_check() == 1
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY


def test_replay_runs_retriable_failures_again_and_leaves_final_ones(backends: Backends) -> None:
    invalid = stage(backends, b"{broken", key="invalid")
    with pytest.raises(FailedJobs):
        Worker(backends, burst=True, **FAST).run_check()
    bug = stage(backends, JSON_BODY, key="bug")
    broken = Broken(backends.blobs, failures=-1)
    with pytest.raises(FailedJobs):
        Worker(
            dataclasses.replace(backends, blobs=broken), burst=True, max_tries=2, **FAST
        ).run_check()
    assert backends.metadata.get_object(invalid.id).failure_kind is FailureKind.FINAL
    assert backends.metadata.get_object(bug.id).failure_kind is FailureKind.RETRIABLE
    assert not staged(backends, invalid.id)
    assert staged(backends, bug.id)

    result = replay_failures(backends)

    assert (result.dead_letters, result.requeued, result.dropped) == (1, 1, 0)
    assert backends.metadata.get_object(bug.id).status is ObjectStatus.PENDING
    assert Worker(backends, burst=True, **FAST).run_check() == 1
    assert backends.metadata.get_object(bug.id).status is ObjectStatus.READY
    assert backends.metadata.get_object(invalid.id).status is ObjectStatus.FAILED
    assert replay_failures(backends).requeued == 0


def test_replay_finds_retriable_failures_without_a_dead_letter(backends: Backends) -> None:
    """The dead letter may be gone (an in-memory queue, a replay whose publish failed): the
    record alone is enough."""
    record = stage(backends, JSON_BODY, publish=False)
    backends.metadata.mark_failed(record.id, "gave up", kind=FailureKind.RETRIABLE)
    result = replay_failures(backends)
    assert (result.dead_letters, result.requeued) == (0, 1)
    assert Worker(backends, burst=True, **FAST).run_check() == 1


def test_a_redelivery_keeps_the_staged_bytes_of_a_retriable_failure(backends: Backends) -> None:
    retriable = stage(backends, JSON_BODY, key="retriable", publish=False)
    final = stage(backends, JSON_BODY, key="final", publish=False)
    backends.metadata.mark_failed(retriable.id, "interrupted", kind=FailureKind.RETRIABLE)
    backends.metadata.mark_failed(final.id, "corrupt")
    for record in (retriable, final):
        assert process_object(backends, ProcessObject.for_object(record.id)) is Outcome.SKIPPED
    assert staged(backends, retriable.id)
    assert not staged(backends, final.id)


def test_the_collector_keeps_what_a_replay_needs(backends: Backends) -> None:
    def failed(key: str, kind: FailureKind) -> ObjectRecord:
        record = stage(backends, JSON_BODY, key=key, publish=False)
        backends.metadata.mark_failed(record.id, "why", kind=kind)
        return record

    retriable = failed("retriable", FailureKind.RETRIABLE)
    final = failed("final", FailureKind.FINAL)
    pending = stage(backends, JSON_BODY, key="pending", publish=False)
    worker = Worker(backends, staging_grace=0, **FAST)
    time.sleep(0.01)

    assert worker.collector.sweep_staging() == 1

    assert staged(backends, retriable.id)
    assert staged(backends, pending.id)
    assert not staged(backends, final.id)
