"""The app itself: the console, the schema, its own backends, the shared plumbing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sangraha_core import BucketKinds, Settings
from sangraha_core.access import MasterKey
from sangraha_getter import create_app
from sangraha_getter.console import CONSOLE_ASSETS, CONSOLE_POLICY
from tests.getter._seed import Seed

pytestmark = pytest.mark.anyio


async def test_console_is_a_page_of_modules_under_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page = response.text
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "<style" not in page and "style=" not in page
    assets = set(re.findall(r'(?:src|href)="console/assets/([^"]+)"', page))
    assert {"app.js", "console.css"} <= assets
    for name in assets:
        asset = await client.get(f"/console/assets/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["x-content-type-options"] == "nosniff"
    # What the API says is set as text, never parsed as HTML, in every module.
    for name in CONSOLE_ASSETS:
        text = (await client.get(f"/console/assets/{name}")).text
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, (name, sink)
    missing = await client.get("/console/assets/../app.py")
    assert missing.status_code == 404
    assert (await client.get("/console/assets/nothing.js")).status_code == 404


async def test_the_vendored_pdfjs_is_served_as_published(client: httpx.AsyncClient) -> None:
    # The page may start pdf.js's worker from this origin, and still runs no eval.
    assert "worker-src 'self';" in CONSOLE_POLICY and "unsafe-eval" not in CONSOLE_POLICY
    vendor = Path(__file__).parents[2] / (
        "packages/sangraha-getter/src/sangraha_getter/console/static/vendor/pdfjs"
    )
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    assert (vendor / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs"):
        asset = await client.get(f"/console/assets/vendor/pdfjs/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith("text/javascript")
        assert asset.headers["content-security-policy"] == CONSOLE_POLICY
        # The digests the README names are those of the files served.
        assert f"`{name}` | `{hashlib.sha256(asset.content).hexdigest()}`" in readme, name
    # Only what is on the list: not the licence or the README, not a way out of the folder.
    for name in ("vendor/pdfjs/LICENSE", "vendor/pdfjs/README.md", "vendor/pdfjs/%2e%2e/app.js"):
        assert (await client.get(f"/console/assets/{name}")).status_code == 404, name


async def test_openapi_names_every_read_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/v1/buckets/{bucket}/objects/{key}"]) == {"get", "head"}
    assert set(paths["/v1/objects/{object_id}/content"]) == {"get", "head"}
    assert set(paths["/v1/blobs/sha256:{hex_digest}"]) == {"get", "head"}
    assert "get" in paths["/v1/buckets/{bucket}/metadata/{key}"]
    assert "get" in paths["/v1/objects/{object_id}"]
    params = {p["name"] for p in paths["/v1/buckets/{bucket}/objects"]["get"]["parameters"]}
    assert {"prefix", "kind", "status", "limit", "cursor", "versions", "delimiter"} <= params


async def test_health_and_errors_come_from_the_shared_plumbing(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["x-request-id"]


async def test_app_opens_and_closes_its_own_backends(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        seed = Seed(app.state.backends)
        record = seed.ready("a.json", b"[1]")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
            response = await client.get(f"/v1/objects/{record.id}/content")
            assert response.content == b"[1]"
    assert (tmp_path / "metadata.db").exists()


async def test_api_key_is_required_when_set(tmp_path: Path, app: FastAPI) -> None:
    backends = app.state.backends
    backends.metadata.create_bucket("photos", BucketKinds.VALIDATED)
    settings = Settings(
        data_dir=tmp_path, api_key="s3cret", auth="keys", master_key=MasterKey.generate()[1]
    )
    locked = create_app(settings, backends=backends)
    transport = httpx.ASGITransport(app=locked)
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        refused = await client.get("/v1/buckets/photos/objects")
        assert refused.status_code == 401
        allowed = await client.get(
            "/v1/buckets/photos/objects", headers={"Authorization": "Bearer s3cret"}
        )
        assert allowed.status_code == 200
