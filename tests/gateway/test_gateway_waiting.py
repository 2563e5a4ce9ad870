"""The wait of an S3 write for its version: on a gateway with no worker, versions stay
pending (or fail as the test marks them), so what the waiting write answers, and whether it
lets the rest of the process work meanwhile, can be seen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import sangraha_gateway
from sangraha_core import Backends, BucketKinds, FailureKind, Settings
from tests.gateway._support import Server, error_of, new_bucket

#: Long enough for every PUT below to be sent and waiting on a loaded machine.
_READY_TIMEOUT = 10.0
#: More waiting writes than anyio's 40 worker threads.
_WRITERS = 45


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Backends, str]]:
    """A gateway over backends no worker serves: its backends and its URL."""
    data_dir: Path = tmp_path_factory.mktemp("gateway-idle")
    backends = Backends.from_settings(
        Settings(data_dir=data_dir, auth="off", s3_ready_timeout=_READY_TIMEOUT)
    )
    gateway = Server(sangraha_gateway.create_app(backends=backends))
    gateway.start()
    try:
        yield backends, gateway.url
    finally:
        gateway.stop()
        backends.close()


def _bucket(backends: Backends) -> str:
    name = new_bucket()
    backends.metadata.create_bucket(name, BucketKinds.ANY)
    return name


def test_waiting_writes_leave_threads_for_other_requests(idle: tuple[Backends, str]) -> None:
    backends, url = idle
    bucket = _bucket(backends)
    answered: list[int] = []
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=_WRITERS + 5)
    with httpx.Client(base_url=url, timeout=120, limits=limits) as http:

        def put(number: int) -> None:
            answer = http.put(f"/{bucket}/waiting-{number}", content=b"pending bytes")
            with lock:
                answered.append(answer.status_code)

        with ThreadPoolExecutor(_WRITERS) as pool:
            for number in range(_WRITERS):
                pool.submit(put, number)
            # Every PUT has been accepted (its version exists) and is waiting.
            for _ in range(600):
                cutoff = datetime.now(UTC) + timedelta(days=1)
                if len(backends.metadata.pending_before(cutoff, limit=1000)) >= _WRITERS:
                    break
                threading.Event().wait(0.05)
            with lock:
                assert answered == [], "a PUT answered before its wait was over"
            listing = http.get(f"/{bucket}", params={"list-type": "2"})
            with lock:
                # The listing was served while the writes still waited, not after them.
                assert answered == []
            assert listing.status_code == 200, listing.text
        assert answered == [503] * _WRITERS


def test_a_retriable_failure_is_service_unavailable(idle: tuple[Backends, str]) -> None:
    backends, url = idle
    bucket = _bucket(backends)

    def fail_when_pending() -> None:
        for _ in range(600):
            cutoff = datetime.now(UTC) + timedelta(days=1)
            found = [
                r
                for r in backends.metadata.pending_before(cutoff, limit=1000)
                if r.bucket == bucket
            ]
            if found:
                backends.metadata.mark_failed(
                    found[0].id, "gave up after 5 attempts", kind=FailureKind.RETRIABLE
                )
                return
            threading.Event().wait(0.05)

    failer = threading.Thread(target=fail_when_pending)
    failer.start()
    with httpx.Client(base_url=url, timeout=120) as http:
        answer = http.put(f"/{bucket}/replayable", content=b"bytes the server could not finish")
    failer.join()
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    fields = error_of(answer)
    assert fields["Code"] == "ServiceUnavailable"
    assert "retried" in fields["Message"] or "replay" in fields["Message"]
