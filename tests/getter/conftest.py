"""Getter fixtures: real embedded backends (file + SQLite + memory) and an app over them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sangraha_core import Backends
from sangraha_getter import create_app
from tests.getter._seed import Seed


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def seed(backends: Backends) -> Seed:
    return Seed(backends)


@pytest.fixture
def app(backends: Backends) -> FastAPI:
    return create_app(backends=backends)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        yield client
