"""An S3 outage longer than every attempt a job may spend: accepted uploads still end ready.

The distributed deployment reaches the tests' S3 server through a TCP proxy that the test
cuts. Timings are short (two attempts, retries at most two seconds apart, a fifteen-second
cut), so the cut outlasts the whole attempt budget several times over, as an hour's outage
would with the defaults. ``SANGRAHA_TEST_S3_CUT`` sets another cut in seconds (600 for the
ten-minute run). Writes go on during the cut: each is refused (503) or, once accepted,
must end ready like the rest.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._proxy import TcpProxy
from tests._topology import Topology, distributed
from tests.e2e import _content

#: Seconds S3 stays unreachable: far past two attempts' worth of retries.
CUT = float(os.environ.get("SANGRAHA_TEST_S3_CUT", "15"))

pytestmark = [
    pytest.mark.timeout(300 + int(CUT)),
    pytest.mark.postgres,
    pytest.mark.rabbitmq,
    pytest.mark.s3,
]


@pytest.fixture
def outage(
    tmp_path: Path, postgres_admin_url: str, amqp_url: str, s3_endpoint: str
) -> Iterator[tuple[Topology, TcpProxy]]:
    del amqp_url  # the broker must be up; the topology reaches it through its own proxy
    s3 = TcpProxy("127.0.0.1", int(s3_endpoint.rsplit(":", 1)[1]))
    s3.start()
    topo = distributed(
        tmp_path,
        postgres_admin_url,
        f"http://127.0.0.1:{s3.port}",
        max_attempts="2",
        max_retry_delay="2",
    )
    try:
        yield topo, s3
    finally:
        topo.stop()
        s3.stop()


def _statuses(topo: Topology, bucket: str, keys: list[str]) -> dict[str, str]:
    out = {}
    for key in keys:
        r = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/metadata/{key}", timeout=30)
        out[key] = r.json()["status"] if r.status_code == 200 else f"http {r.status_code}"
    return out


class _WriteLoad(threading.Thread):
    """Uploads one document after another until stopped, keeping what was accepted."""

    def __init__(self, topo: Topology, bucket: str) -> None:
        super().__init__(daemon=True)
        self._url = f"{topo.write_url}/v1/buckets/{bucket}/objects"
        self._done = threading.Event()
        self.answers: dict[int, int] = {}
        self.accepted: dict[str, bytes] = {}

    def run(self) -> None:
        n = 0
        while not self._done.wait(0.5):
            key, body = f"during-{n:04d}.json", f'{{"during": {n}}}'.encode()
            n += 1
            response = httpx.put(
                f"{self._url}/{key}",
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            self.answers[response.status_code] = self.answers.get(response.status_code, 0) + 1
            if response.status_code == 202:
                self.accepted[key] = body

    def stop(self) -> None:
        self._done.set()
        self.join()


def test_uploads_accepted_before_an_s3_outage_end_ready_after_it(
    outage: tuple[Topology, TcpProxy],
) -> None:
    topo, s3 = outage
    bucket = f"s3cut-{uuid.uuid4().hex[:10]}"
    bodies: dict[str, tuple[bytes, str]] = {
        f"doc-{i:02d}.json": (f'{{"n": {i}}}'.encode(), "application/json") for i in range(12)
    }
    bodies["picture.png"] = (_content.png(), "image/png")
    bodies["report.pdf"] = (_content.pdf(), "application/pdf")
    keys = list(bodies)

    # Once the worker runs (it opens every backend as it starts), it is held back until S3
    # is gone, so every job meets the outage.
    deadline = time.monotonic() + 60
    while "worker started" not in topo.worker.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, topo.worker.log.read_text(errors="replace")
        time.sleep(0.1)
    topo.worker.pause()
    try:
        for key, (body, content_type) in bodies.items():
            response = httpx.put(
                f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}",
                content=body,
                headers={"Content-Type": content_type},
                timeout=30,
            )
            assert response.status_code == 202, response.text
        s3.stop()
    finally:
        topo.worker.resume()

    cut_until = time.monotonic() + CUT
    during = _WriteLoad(topo, bucket)
    during.start()
    try:
        while time.monotonic() < cut_until:
            statuses = _statuses(topo, bucket, keys)
            moved = {k: s for k, s in statuses.items() if s != "pending"}
            assert not moved, f"accepted uploads settled while S3 was unreachable: {moved}"
            time.sleep(0.5)
    finally:
        s3.start()
        during.stop()
    logging.getLogger(__name__).info(
        "writes during the %.0f s cut: %s (status: count)", CUT, during.answers
    )
    assert during.answers, "no write was tried during the cut"
    assert set(during.answers) <= {202, 503}, during.answers
    for key, body in during.accepted.items():
        bodies[key] = (body, "application/json")
    keys = list(bodies)

    deadline = time.monotonic() + 60
    while True:
        statuses = _statuses(topo, bucket, keys)
        assert "failed" not in statuses.values(), statuses
        if all(s == "ready" for s in statuses.values()):
            break
        assert time.monotonic() < deadline, f"not ready 60s after S3 came back: {statuses}"
        time.sleep(0.25)
    for key, (body, _content_type) in bodies.items():
        got = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/objects/{key}", timeout=30)
        assert got.status_code == 200, got.text
        assert got.content == body, f"{key} came back different"
    log = topo.worker.log.read_text(errors="replace")
    assert "a backend is unreachable" in log, "the cut never reached the worker"
