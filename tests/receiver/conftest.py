"""The receiver app over real backends: embedded (file + SQLite + memory) or production
(S3 on moto + PostgreSQL + RabbitMQ), driven in process through ``httpx.ASGITransport``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sangraha_core import Backends, Settings
from sangraha_core.queue.amqp import AmqpQueue
from sangraha_receiver import create_app
from tests.receiver._support import BackendsFactory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_embedded(tmp_path: Path) -> Iterator[BackendsFactory]:
    """Open embedded backends under ``tmp_path`` with extra settings; closed afterwards."""
    opened: list[Backends] = []

    def make(**overrides: Any) -> Backends:
        backends = Backends.from_settings(Settings(data_dir=tmp_path, **overrides))
        opened.append(backends)
        return backends

    yield make
    for backends in opened:
        backends.close()


@pytest.fixture
def embedded(make_embedded: BackendsFactory) -> Backends:
    return make_embedded()


@pytest.fixture
def production(
    tmp_path: Path, s3_url: str, postgres_url: str, amqp_url: str, queue_prefix: str
) -> Iterator[Backends]:
    settings = Settings(
        data_dir=tmp_path,
        blob_url=s3_url,
        metadata_url=postgres_url,
        queue_url=amqp_url,
        queue_prefix=queue_prefix,
    )
    backends = Backends.from_settings(settings)
    try:
        yield backends
    finally:
        backends.close()
        cleaner = AmqpQueue(amqp_url, prefix=queue_prefix)
        try:
            cleaner.delete_topology()
        finally:
            cleaner.close()


@pytest.fixture(params=["embedded", "production"])
def backends(request: pytest.FixtureRequest) -> Backends:
    """Each test that takes this runs on both backend sets."""
    chosen: Backends = request.getfixturevalue(request.param)
    return chosen


@pytest.fixture
def bucket() -> str:
    """A bucket of its own, so tests sharing one database never see each other's objects."""
    return f"bucket-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def app(backends: Backends) -> FastAPI:
    return create_app(backends=backends)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver"
    ) as client:
        yield client


@pytest.fixture
async def embedded_client(embedded: Backends) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(backends=embedded)),
        base_url="http://receiver",
    ) as client:
        yield client
