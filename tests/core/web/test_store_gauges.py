"""``/metrics`` gauges what the metadata store holds, counted at most every few seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sangraha_core import Backends, MetadataUnavailableError, Settings
from sangraha_core.metadata import Stats, StoreStats
from sangraha_core.web import install_web
from sangraha_core.web._observability import StoreGauges
from tests.getter._seed import Seed

DUPLICATE = b'{"same": "bytes", "stored": "once"}'
OTHER = b'{"other": 1}'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app(backends: Backends, tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.state.backends = backends
    install_web(app, service="test", settings=Settings(data_dir=tmp_path, auth="off"))
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def _seed(backends: Backends) -> None:
    seed = Seed(backends)
    seed.ready("a.json", DUPLICATE)
    seed.ready("b.json", DUPLICATE)  # the same bytes under another key: one blob
    seed.ready("c.json", OTHER)
    seed.pending("d.json")
    seed.failed("e.json", "not valid JSON")


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in the metrics")


def test_the_sql_store_counts_by_status_and_bytes(backends: Backends) -> None:
    store = backends.metadata
    assert isinstance(store, Stats)
    assert store.stats() == StoreStats(
        ready=0, pending=0, failed=0, ready_bytes=0, blobs=0, blob_bytes=0
    )
    _seed(backends)
    stats = store.stats()
    assert (stats.ready, stats.pending, stats.failed) == (3, 1, 1)
    assert stats.ready_bytes == 2 * len(DUPLICATE) + len(OTHER)
    assert (stats.blobs, stats.blob_bytes) == (2, len(DUPLICATE) + len(OTHER))
    assert stats.dedup_saved_bytes == len(DUPLICATE)


def test_a_blob_no_record_references_is_not_counted(backends: Backends) -> None:
    _seed(backends)
    assert backends.metadata.delete_objects("photos", "c.json") == 1
    stats = backends.metadata.stats()  # type: ignore[attr-defined]
    # Its bytes wait for the collector, but no longer hold anyone's content.
    assert (stats.blobs, stats.blob_bytes) == (1, len(DUPLICATE))
    assert stats.dedup_saved_bytes == len(DUPLICATE)


def test_dedup_saved_is_never_negative() -> None:
    counted = StoreStats(ready=1, pending=0, failed=0, ready_bytes=5, blobs=1, blob_bytes=9)
    assert counted.dedup_saved_bytes == 0


@pytest.mark.anyio
async def test_an_app_counts_at_most_every_few_seconds_by_default(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.get("/metrics")).status_code == 200
    gauges = app.state.store_gauges
    assert isinstance(gauges, StoreGauges)
    assert 1 <= gauges.ttl <= 60


@pytest.mark.anyio
async def test_metrics_show_the_store_gauges(
    client: httpx.AsyncClient, app: FastAPI, backends: Backends
) -> None:
    _seed(backends)
    app.state.store_gauges = StoreGauges(ttl=0)
    text = (await client.get("/metrics")).text
    assert _gauge(text, 'sangraha_objects{status="ready"}') == 3
    assert _gauge(text, 'sangraha_objects{status="pending"}') == 1
    assert _gauge(text, 'sangraha_objects{status="failed"}') == 1
    assert _gauge(text, "sangraha_object_bytes") == 2 * len(DUPLICATE) + len(OTHER)
    assert _gauge(text, "sangraha_stored_blobs") == 2
    assert _gauge(text, "sangraha_stored_bytes") == len(DUPLICATE) + len(OTHER)
    assert _gauge(text, "sangraha_dedup_saved_bytes") == len(DUPLICATE)


@pytest.mark.anyio
async def test_scrapes_within_the_ttl_count_once(
    client: httpx.AsyncClient, app: FastAPI, backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.state.store_gauges = StoreGauges(ttl=3600)
    store = backends.metadata
    counted = 0
    count = store.stats  # type: ignore[attr-defined]

    def counting() -> StoreStats:
        nonlocal counted
        counted += 1
        result: StoreStats = count()
        return result

    monkeypatch.setattr(store, "stats", counting)
    first = await client.get("/metrics")
    assert first.status_code == 200
    assert counted == 1
    Seed(backends).ready("late.json", OTHER)
    for _ in range(3):
        assert (await client.get("/metrics")).status_code == 200
    # The later scrapes answered with the first count.
    assert counted == 1
    assert _gauge((await client.get("/metrics")).text, "sangraha_stored_blobs") == 0


@pytest.mark.anyio
async def test_a_store_that_fails_to_count_leaves_the_gauges(
    client: httpx.AsyncClient, app: FastAPI, backends: Backends, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(backends)
    app.state.store_gauges = StoreGauges(ttl=0)
    assert _gauge((await client.get("/metrics")).text, "sangraha_stored_blobs") == 2

    def unreachable() -> StoreStats:
        raise MetadataUnavailableError("metadata database error: gone")

    monkeypatch.setattr(backends.metadata, "stats", unreachable)
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert _gauge(answer.text, "sangraha_stored_blobs") == 2
