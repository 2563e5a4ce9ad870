"""A stop that waits for running jobs says so: how many, and the one running longest."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import pytest

from sangraha_core import Backends, ObjectStatus
from sangraha_worker import JobContext, Worker
from sangraha_worker import worker as worker_module
from tests.worker._staging import JSON_BODY, stage

FAST: dict[str, Any] = {"poll_interval": 0.05, "burst_idle": 0.3, "retry_backoff": 0.02}


class _Held:
    """An ``on_job_start`` hook that holds every job until released."""

    def __init__(self, jobs: int) -> None:
        self.started: list[str] = []
        self.all_started = threading.Event()
        self.release = threading.Event()
        self._jobs = jobs
        self._lock = threading.Lock()

    def __call__(self, ctx: JobContext) -> None:
        with self._lock:
            self.started.append(ctx.message.object_id)
            if len(self.started) == self._jobs:
                self.all_started.set()
        assert self.release.wait(30)


def _waiting_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "running job(s)" in r.getMessage()]


def test_stop_logs_the_jobs_it_waits_for(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    records = [stage(backends, JSON_BODY, key=f"k{n}.json") for n in range(2)]
    held = _Held(jobs=2)
    # One job a thread: both are held in their own thread at once.
    worker = Worker(
        backends, concurrency=2, batch=1, on_job_start=held, handle_signals=False, **FAST
    )
    stopper = threading.Thread(target=worker.stop)
    worker.start()
    try:
        assert held.all_started.wait(10)
        assert {job for job, _ in worker.running_jobs()} == {r.id for r in records}
        caplog.set_level(logging.INFO, logger="sangraha_worker")
        stopper.start()
        # The line is logged before the wait, so it is there while stop() still waits.
        while not _waiting_lines(caplog):
            assert stopper.is_alive(), "stop() returned with jobs held"
            stopper.join(0.02)
        [line] = _waiting_lines(caplog)
        oldest = held.started[0]
        assert line.startswith("stopping: waiting for 2 running job(s); the longest, object ")
        assert oldest in line
    finally:
        held.release.set()
        if stopper.ident is not None:
            stopper.join(10)
    assert not stopper.is_alive()
    assert all(backends.metadata.get_object(r.id).status is ObjectStatus.READY for r in records)


def test_a_long_wait_is_reported_again_and_a_timeout_says_what_is_left(
    backends: Backends, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "_WAIT_REPORT_INTERVAL", 0.05)
    record = stage(backends, JSON_BODY)
    held = _Held(jobs=1)
    worker = Worker(backends, on_job_start=held, handle_signals=False, **FAST)
    worker.start()
    try:
        assert held.all_started.wait(10)
        caplog.set_level(logging.INFO, logger="sangraha_worker")
        assert worker.stop(timeout=0.3) is False
        lines = _waiting_lines(caplog)
        assert lines[0].startswith("stopping: waiting (for up to 0.3s) for 1 running job(s)")
        assert any(line.startswith("stopping: still waiting after") for line in lines)
        last = caplog.records[-1]
        assert last.levelno == logging.WARNING
        assert last.getMessage().startswith("stopped waiting after 0.3s for 1 running job(s)")
        assert record.id in last.getMessage()
        assert "processed again later" in last.getMessage()
    finally:
        held.release.set()
    caplog.clear()
    assert worker.stop(timeout=10)
    # Said once: a later call (run() calls stop() again after a signal) does not repeat it.
    assert not [line for line in _waiting_lines(caplog) if line.startswith("stopping: waiting")]


def test_stop_without_running_jobs_logs_no_wait(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(backends, handle_signals=False, **FAST)
    worker.start()
    caplog.set_level(logging.INFO, logger="sangraha_worker")
    assert worker.stop(timeout=10)
    assert worker.running_jobs() == []
    assert not _waiting_lines(caplog)


def test_sigterm_during_a_job_logs_the_wait(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    """``run()`` on the main thread: SIGTERM, then the line naming the job it waits for; a
    second SIGTERM says the wait goes on."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are installed from the main thread only")
    record = stage(backends, JSON_BODY)
    held = _Held(jobs=1)
    worker = Worker(backends, on_job_start=held, **FAST)
    caplog.set_level(logging.INFO, logger="sangraha_worker")

    def signal_twice() -> None:
        assert held.all_started.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)
        while not _waiting_lines(caplog):
            threading.Event().wait(0.02)
        os.kill(os.getpid(), signal.SIGTERM)
        while not any("received again" in r.getMessage() for r in caplog.records):
            threading.Event().wait(0.02)
        held.release.set()

    sender = threading.Thread(target=signal_twice)
    sender.start()
    try:
        worker.run()
    finally:
        held.release.set()
        sender.join(10)
    messages = [r.getMessage() for r in caplog.records]
    assert "SIGTERM received: finishing the jobs in progress" in messages
    [line] = _waiting_lines(caplog)
    assert line.startswith("stopping: waiting for 1 running job(s)")
    assert record.id in line
    assert any(m.startswith("SIGTERM received again: still finishing") for m in messages)
    assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
