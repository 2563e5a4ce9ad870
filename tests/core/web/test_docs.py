"""``/docs`` and ``/redoc`` are served whole by the service: every URL the pages name is on
the same origin, each asset is there with its type, and the pages' policy allows nothing
else."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import sangraha_core.web
from sangraha_core import Backends, Settings
from sangraha_core.web import OPEN_PATHS, install_web
from sangraha_core.web._docs import DOCS_ASSET_PREFIX, DOCS_ASSETS

STATIC = Path(sangraha_core.web.__file__).parent / "_static"
# Every URL in markup or in the inline script's options.
_URLS = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|\burl: '([^']*)'""")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["off", "keys"])
def app(request: pytest.FixtureRequest, backends: Backends, tmp_path: Path) -> FastAPI:
    """A service app as the services build theirs, with access control off and on: the
    pages are open either way."""
    app = FastAPI(title="Sangraha test")
    app.state.backends = backends
    settings = Settings(data_dir=tmp_path, auth=request.param)
    install_web(app, service="test", settings=settings, create_master_key=True)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


def _urls(html: str) -> list[str]:
    return [a or b for a, b in _URLS.findall(html)]


def _script_hashes(html: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    }


async def _check_page(client: httpx.AsyncClient, path: str, assets: set[str]) -> str:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "http://" not in html and "https://" not in html and "//" not in "".join(_urls(html))
    urls = set(_urls(html))
    assert {DOCS_ASSET_PREFIX + name for name in assets} <= urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
        if url.startswith(DOCS_ASSET_PREFIX):
            name = url.removeprefix(DOCS_ASSET_PREFIX)
            assert answer.headers["content-type"] == DOCS_ASSETS[name]
            assert answer.content == (STATIC / name).read_bytes()
            assert answer.headers["x-content-type-options"] == "nosniff"
    return page.headers["content-security-policy"]


@pytest.mark.anyio
async def test_swagger_ui_is_served_whole(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    policy = await _check_page(
        client, "/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    )
    assert "/openapi.json" in _urls(page.text)
    # No online validator badge: the description is never sent elsewhere.
    assert '"validatorUrl": null' in page.text
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    scripts = directives["script-src"].split()
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    # The page's one inline script is allowed by its hash, and nothing but it and 'self'.
    assert set(scripts) == {"'self'"} | _script_hashes(page.text)
    assert len(_script_hashes(page.text)) == 1
    assert "http" not in policy


@pytest.mark.anyio
async def test_the_description_names_the_access_key_for_the_authorize_button(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["accessKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert schema["security"] == [{"accessKey": []}]


@pytest.mark.anyio
async def test_redoc_is_served_whole(client: httpx.AsyncClient) -> None:
    page = await client.get("/redoc")
    policy = await _check_page(client, "/redoc", {"redoc.standalone.js", "favicon-32x32.png"})
    assert 'spec-url="/openapi.json"' in page.text
    assert "fonts.googleapis" not in page.text
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["worker-src"] == "blob:"
    assert "http" not in policy


@pytest.mark.anyio
async def test_assets_answer_head_and_nothing_else_is_under_the_prefix(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for name, media_type in DOCS_ASSETS.items():
        answer = await client.head(DOCS_ASSET_PREFIX + name)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == media_type
        assert int(answer.headers["content-length"]) == (STATIC / name).stat().st_size
    for path in ("swagger-ui.js.map", "../_docs.py", "README.md", "redoc.LICENSE"):
        answer = await client.get(DOCS_ASSET_PREFIX + path)
        # Not served: unknown to the app (404), or not open, so a key is asked for (401).
        assert answer.status_code in (401, 404), path
    assert (await client.post(DOCS_ASSET_PREFIX + "swagger-ui.css")).status_code in (401, 405)


def test_the_pages_and_assets_are_open_paths() -> None:
    assert {"/docs", "/redoc", "/openapi.json"} <= OPEN_PATHS
    assert {DOCS_ASSET_PREFIX + name for name in DOCS_ASSETS} <= OPEN_PATHS


def test_the_assets_ship_with_their_licences() -> None:
    for name in DOCS_ASSETS:
        assert (STATIC / name).stat().st_size > 0, name
    for licence in (
        "swagger-ui-dist.LICENSE",
        "swagger-ui-dist.NOTICE",
        "swagger-ui-bundle.js.LICENSE.txt",
        "redoc.LICENSE",
        "redoc.standalone.js.LICENSE.txt",
    ):
        assert (STATIC / licence).stat().st_size > 0, licence
    assert "Apache License" in (STATIC / "swagger-ui-dist.LICENSE").read_text()
    assert "MIT License" in (STATIC / "redoc.LICENSE").read_text()


@pytest.mark.anyio
async def test_an_app_without_docs_gets_none(backends: Backends, tmp_path: Path) -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    app.state.backends = backends
    install_web(app, service="test", settings=Settings(data_dir=tmp_path, auth="off"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for path in ("/docs", "/redoc", DOCS_ASSET_PREFIX + "swagger-ui-bundle.js"):
            assert (await client.get(path)).status_code == 404, path


@pytest.mark.anyio
async def test_behind_a_path_prefix_every_url_is_under_it(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/sangraha")
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        html = (await client.get("/docs")).text
    urls = _urls(html)
    assert urls and all(url.startswith("/sangraha/") for url in urls), urls
