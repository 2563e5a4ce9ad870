"""Path prefixes open for reading (the console's assets): open to GET and HEAD on a service
app, to nothing else, and not at all on an app that does not ask for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from sangraha_core import Backends, Settings
from sangraha_core.web import OPEN_PREFIXES, AccessMiddleware, install_web

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _asset_route(app: FastAPI) -> None:
    @app.api_route("/console/assets/{name}", methods=["GET", "HEAD", "POST"])
    async def asset(name: str) -> PlainTextResponse:
        return PlainTextResponse(name)

    @app.get("/console/other")
    async def other() -> PlainTextResponse:
        return PlainTextResponse("other")


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


@pytest.fixture
async def service(backends: Backends, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.backends = backends
    settings = Settings(data_dir=tmp_path, auth="keys")
    install_web(app, service="test", settings=settings, create_master_key=True)
    _asset_route(app)
    async for client in _client(app):
        yield client


async def test_the_console_assets_are_open_for_reading_only(
    service: httpx.AsyncClient,
) -> None:
    assert OPEN_PREFIXES == ("/console/assets/",)
    assert (await service.get("/console/assets/app.js")).text == "app.js"
    assert (await service.head("/console/assets/app.js")).status_code == 200
    assert (await service.post("/console/assets/app.js")).status_code == 401
    # Only under the prefix: a sibling path still asks for a key.
    assert (await service.get("/console/other")).status_code == 401
    assert (await service.get("/console/assetsX")).status_code == 401


async def test_an_app_that_names_no_prefix_opens_none(backends: Backends, tmp_path: Path) -> None:
    """The S3 gateway passes its own open paths and no prefix: a bucket named console is
    not readable there without a signature."""
    app = FastAPI()
    app.state.backends = backends
    settings = Settings(data_dir=tmp_path, auth="keys")
    _asset_route(app)
    app.add_middleware(
        AccessMiddleware, settings=settings, create_master_key=True, open_paths=frozenset()
    )
    async for client in _client(app):
        assert (await client.get("/console/assets/app.js")).status_code == 401
