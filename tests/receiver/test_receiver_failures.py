"""Backends that fail, clients that leave, and uploads too big to hold: nothing is left
half-done and nothing accepted can vanish."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator, MutableMapping
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client import REGISTRY

from sangraha_core import Backends, ObjectStatus
from sangraha_core.metadata.sql import SqlMetadataStore
from sangraha_core.queue.amqp import AmqpQueue
from sangraha_receiver import create_app
from tests._services import free_port
from tests.receiver._support import (
    JSON_BODY,
    BackendsFactory,
    assert_problem,
    drain,
    records,
    staging_keys,
)

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def dead_broker(embedded: Backends) -> Iterator[Backends]:
    """Embedded backends whose queue is a real ``AmqpQueue`` pointed at a closed port."""
    working = embedded.queue
    embedded.queue = AmqpQueue(
        f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", connect_timeout=1.0, publish_attempts=1
    )
    try:
        yield embedded
    finally:
        embedded.queue.close()
        embedded.queue = working


@pytest.fixture
def dead_database(embedded: Backends) -> Iterator[Backends]:
    """Embedded backends whose metadata store is PostgreSQL on a closed port."""
    working = embedded.metadata
    embedded.metadata = SqlMetadataStore.from_url(
        f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    )
    try:
        yield embedded
    finally:
        embedded.metadata.close()
        embedded.metadata = working


async def _put(backends: Backends, path: str, **kwargs: Any) -> httpx.Response:
    app = create_app(backends=backends)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        return await c.put(path, **kwargs)


def _unavailable(backend: str) -> float:
    return (
        REGISTRY.get_sample_value("sangraha_backend_unavailable_total", {"backend": backend}) or 0.0
    )


async def test_broker_down_is_503_and_leaves_nothing(dead_broker: Backends) -> None:
    before = _unavailable("queue")
    response = await _put(
        dead_broker, "/v1/buckets/bucket-ok/objects/x.json", content=JSON_BODY, headers=JSON
    )

    assert_problem(response, 503, "unavailable")
    assert _unavailable("queue") == before + 1
    assert response.headers["retry-after"] == "2"
    assert records(dead_broker, "bucket-ok") == []
    assert staging_keys(dead_broker) == []


async def test_database_down_is_503_and_leaves_nothing(dead_database: Backends) -> None:
    response = await _put(
        dead_database, "/v1/buckets/bucket-ok/objects/x.json", content=JSON_BODY, headers=JSON
    )

    assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "2"
    assert staging_keys(dead_database) == []
    assert drain(dead_database, timeout=0.2) == []


async def test_unexpected_error_is_a_bare_500(
    embedded: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    # Staging goes through ``put_unpublished`` on stores that have it, else ``put``.
    monkeypatch.setattr(embedded.blobs, "put", explode)
    monkeypatch.setattr(embedded.blobs, "put_unpublished", explode)
    app = create_app(backends=embedded)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
        response = await c.put("/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=JSON)

    assert_problem(response, 500, "internal")
    assert "secret internals" not in response.text
    assert records(embedded, "bucket-ok") == []


async def test_client_gone_mid_upload_leaves_nothing(embedded: Backends) -> None:
    app = create_app(backends=embedded)
    incoming: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"partial": ', "more_body": True},
        {"type": "http.request", "body": b"[1, 2, ", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/v1/buckets/bucket-ok/objects/gone.json",
        "raw_path": b"/v1/buckets/bucket-ok/objects/gone.json",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"r"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("r", 80),
        "state": {},
    }
    with anyio.fail_after(10):
        await app(scope, receive, send)

    assert sent[0]["status"] == 400
    assert records(embedded, "bucket-ok") == []
    assert staging_keys(embedded) == []
    assert drain(embedded, timeout=0.2) == []
    root = getattr(embedded.blobs, "root", None)
    if root is not None:  # the file store keeps no temporary either
        assert list((root / ".tmp").iterdir()) == []


async def test_wait_answers_202_while_pending(
    embedded_client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=JSON, params={"wait": "0.3"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert time.monotonic() - started >= 0.3


async def test_wait_answers_200_once_processed(
    embedded_client: httpx.AsyncClient, embedded: Backends
) -> None:
    # Stands in for a worker: fails the record as soon as it appears.
    stop = threading.Event()

    def process() -> None:
        while not stop.is_set():
            for record in records(embedded, "bucket-ok"):
                embedded.metadata.mark_failed(record.id, "not what was promised")
                return
            time.sleep(0.01)

    worker = threading.Thread(target=process)
    worker.start()
    try:
        response = await embedded_client.put(
            "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=JSON, params={"wait": 10}
        )
    finally:
        stop.set()
        worker.join()

    assert response.status_code == 200, response.text
    assert response.json()["status"] == ObjectStatus.FAILED
    assert response.json()["error"] == "not what was promised"
    assert response.headers["location"] == f"/v1/objects/{response.json()['id']}"


async def test_large_upload_streams_in_flat_memory(
    make_embedded: BackendsFactory,
) -> None:
    size = 64 * 1024 * 1024
    piece = b"7" * (64 * 1024)
    backends = make_embedded(max_object_size=size)
    app = create_app(backends=backends)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // len(piece)):
            yield piece

    tracemalloc.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r", timeout=120
        ) as c:
            response = await c.put(
                "/v1/buckets/bucket-ok/objects/big.json", content=body(), headers=JSON
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 202, response.text
    assert response.json()["size"] == size
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte upload"
