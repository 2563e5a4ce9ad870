"""The SDK's keys and presigned URLs against the embedded server with access control on.

The first key is made against the data directory with no server running, as
``sangraha keys create --local`` makes it; every later step goes through the HTTP API.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from sangraha_client import (
    AsyncClient,
    AuthenticationError,
    Grant,
    KeyStatus,
    ObjectStatus,
    PermissionDeniedError,
)
from sangraha_core import Settings
from sangraha_server import create_app, create_key_locally

pytestmark = pytest.mark.anyio

BASE = "http://sangraha.test"
JSON = b'{"cat": "tabby"}'


@dataclass
class Server:
    transport: httpx.ASGITransport
    admin: str

    def client(self, bearer: str) -> AsyncClient:
        return AsyncClient(base_url=BASE, api_key=bearer, transport=self.transport, max_retries=0)

    async def fetch(self, method: str, url: str, **options: object) -> httpx.Response:
        # A plain HTTP client holding no key: the URL is all it has.
        async with httpx.AsyncClient(transport=self.transport) as anyone:
            return await anyone.request(method, url, **options)  # type: ignore[arg-type]


@pytest.fixture
async def server(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Server]:
    for name in ("SANGRAHA_API_KEY", "SANGRAHA_KEY", "SANGRAHA_MASTER_KEY", "SANGRAHA_REGION"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(data_dir=tmp_path / "data", auth="keys")
    first = create_key_locally(
        settings, [Grant.parse("*:read,list,write,delete,admin")], "first admin", None
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield Server(httpx.ASGITransport(app=app), first.bearer)


async def test_a_scoped_key_and_its_presigned_urls(server: Server) -> None:
    async with server.client(server.admin) as admin:
        made = await admin.create_key(
            ["photos-*:read,write"], name="photos", expires_in=timedelta(days=1)
        )
        assert made.status is KeyStatus.ACTIVE and made.expires_at is not None
        assert {k.name for k in await admin.list_keys()} == {"first admin", "photos"}
        assert "secret" not in (await admin.get_key(made.key_id)).model_dump()

    async with server.client(made.bearer) as photos:
        record = await photos.put_object("photos-1", "cats/a b.json", JSON, wait=30)
        assert record.status is ObjectStatus.READY
        with pytest.raises(PermissionDeniedError, match="'write' grant on bucket 'docs'"):
            await photos.put_object("docs", "a.json", JSON)
        with pytest.raises(PermissionDeniedError):
            await photos.create_key(["photos-1:read"])

        url = photos.presign_get("photos-1", "cats/a b.json", expires=60)
        got = await server.fetch("GET", url)
        assert (got.status_code, got.content) == (200, JSON)
        versioned = photos.presign_get("photos-1", "cats/a b.json", version=record.id)
        assert (await server.fetch("GET", versioned)).content == JSON
        # The signature covers the object: it opens no other.
        other = url.replace("a%20b.json", "c.json")
        assert (await server.fetch("GET", other)).status_code in (401, 403)

        put = photos.presign_put("photos-1", "cats/up.json", expires=timedelta(minutes=5))
        sent = await server.fetch(
            "PUT", put, content=b"[1, 2]", headers={"Content-Type": "application/json"}
        )
        assert sent.status_code == 202, sent.text
        # A PUT URL reads nothing.
        assert (await server.fetch("GET", put)).status_code in (401, 403)
        ready = await photos.wait_until_ready("photos-1", "cats/up.json", timeout=30)
        assert await photos.get_object("photos-1", ready.key) == b"[1, 2]"


async def test_rotate_and_revoke_take_effect_at_once(server: Server) -> None:
    async with server.client(server.admin) as admin:
        await admin.create_bucket("notes")
        made = await admin.create_key(["notes:read,list"])
        rotated = await admin.rotate_key(made.key_id)
        assert rotated.key_id == made.key_id and rotated.bearer != made.bearer

        async with server.client(made.bearer) as old:
            old_url = old.presign_get("notes", "a.json")
            with pytest.raises(AuthenticationError):
                await old.list_objects("notes")
        assert (await server.fetch("GET", old_url)).status_code == 401

        async with server.client(rotated.bearer) as new:
            assert (await new.list_objects("notes")).items == []
            revoked = await admin.revoke_key(made.key_id)
            assert revoked.status is KeyStatus.REVOKED and revoked.revoked_at is not None
            with pytest.raises(AuthenticationError):
                await new.list_objects("notes")
