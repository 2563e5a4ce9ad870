"""Nothing accepted is ever lost: worker crashes, server crashes, broker outages."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests._topology import Topology

pytestmark = pytest.mark.timeout(600)


def _upload(topo: Topology, bucket: str, key: str, body: bytes) -> httpx.Response:
    return httpx.put(
        f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )


def _statuses(topo: Topology, bucket: str, keys: list[str]) -> dict[str, str]:
    out = {}
    for key in keys:
        r = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/metadata/{key}", timeout=30)
        out[key] = r.json()["status"] if r.status_code == 200 else f"http {r.status_code}"
    return out


def _wait_all_ready(topo: Topology, bucket: str, keys: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        statuses = _statuses(topo, bucket, keys)
        if all(s == "ready" for s in statuses.values()):
            return
        if time.monotonic() > deadline:
            stuck = {k: s for k, s in statuses.items() if s != "ready"}
            raise AssertionError(f"not ready after {timeout}s: {stuck}")
        time.sleep(0.25)


def test_a_pending_object_answers_409_with_retry_after(topology: Topology) -> None:
    if topology.name == "embedded":
        pytest.skip("the embedded worker shares the server's process; it cannot be paused alone")
    bucket = f"p-{uuid.uuid4().hex[:10]}"
    topology.worker.pause()
    try:
        assert _upload(topology, bucket, "slow.json", b"[1]").status_code == 202
        content = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/slow.json")
        assert content.status_code == 409
        assert content.headers["retry-after"].isdigit()
        assert content.json()["type"].endswith("/pending")
        meta = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/metadata/slow.json")
        assert meta.json()["status"] == "pending"
    finally:
        topology.worker.resume()
    _wait_all_ready(topology, bucket, ["slow.json"])


def test_kill_9_mid_batch_then_restart_loses_nothing(topology: Topology) -> None:
    bucket = f"k-{uuid.uuid4().hex[:10]}"
    bodies = {f"o{i:03d}.json": f'{{"n": {i % 40}}}'.encode() for i in range(120)}
    before = topology.count_blobs()
    for key, body in bodies.items():
        response = _upload(topology, bucket, key, body)
        assert response.status_code == 202, response.text
    # Some of the batch is done, some is in flight: kill without warning.
    topology.worker.kill()
    topology.worker.start()
    _wait_all_ready(topology, bucket, list(bodies))
    for key, body in list(bodies.items())[::7]:
        got = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/{key}", timeout=30)
        assert got.content == body
    # Forty distinct bodies: forty new blobs, no copy twice.
    assert topology.count_blobs() - before == 40


def test_broker_outage_gives_503_never_a_lost_202(topology: Topology) -> None:
    if topology.broker is None:
        pytest.skip("the embedded server has no broker to lose")
    bucket = f"q-{uuid.uuid4().hex[:10]}"
    accepted: list[str] = []
    topology.broker.stop()
    try:
        refused = 0
        for i in range(10):
            response = _upload(topology, bucket, f"during-{i}.json", b"[1]")
            if response.status_code == 202:
                accepted.append(f"during-{i}.json")
            else:
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"].isdigit()
                assert response.headers["content-type"].startswith("application/problem+json")
                refused += 1
        assert refused >= 9, "uploads kept being accepted with the broker unreachable"
        ready = httpx.get(f"{topology.write_url}/readyz", timeout=30)
        assert ready.status_code == 503
    finally:
        topology.broker.start()
    deadline = time.monotonic() + 60
    while True:
        response = _upload(topology, bucket, "after.json", b"[2]")
        if response.status_code == 202 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 202, response.text
    accepted.append("after.json")
    _wait_all_ready(topology, bucket, accepted)
    for i in range(10):
        key = f"during-{i}.json"
        if key not in accepted:
            meta = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/metadata/{key}")
            assert meta.status_code == 404, "a refused upload left a record behind"
