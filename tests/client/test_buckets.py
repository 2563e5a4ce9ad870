"""Buckets through the SDK: the requests of ``/v1/buckets``, their answers and errors, on
both clients against a fake API, and the async client against the embedded server."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sangraha_client import (
    AsyncClient,
    Bucket,
    BucketAlreadyExistsError,
    BucketKinds,
    BucketNotEmptyError,
    BucketNotFoundError,
    BucketSummary,
    ConflictError,
    NotFoundError,
    ObjectKind,
    PermissionDeniedError,
)
from sangraha_core import Settings
from sangraha_core.access import Grant
from sangraha_server import create_app, create_key_locally
from tests.client.clients import Clients
from tests.client.fake_buckets import BucketAPI

READ = "http://getter.test"
WRITE = "http://receiver.test:8002"


@pytest.fixture
def api() -> BucketAPI:
    return BucketAPI()


def test_list_and_get_read_from_the_read_service(clients: Clients, api: BucketAPI) -> None:
    api.add("photos", "any", objects=3, size=2048)
    api.add("docs")
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE)
    listed = client.list_buckets()
    assert [b.name for b in listed] == ["docs", "photos"]
    assert all(isinstance(b, BucketSummary) for b in listed)
    assert (listed[1].kinds, listed[1].objects, listed[1].bytes) == (BucketKinds.ANY, 3, 2048)
    one = client.get_bucket("photos")
    assert type(one) is Bucket and one.kinds is BucketKinds.ANY
    assert [(r.method, str(r.url)) for r in api.requests] == [
        ("GET", f"{READ}/v1/buckets"),
        ("GET", f"{READ}/v1/buckets/photos"),
    ]
    with pytest.raises(BucketNotFoundError) as caught:
        client.get_bucket("nothing")
    assert isinstance(caught.value, NotFoundError)


def test_create_only_makes_a_bucket(clients: Clients, api: BucketAPI) -> None:
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE)
    made = client.create_bucket("uploads", "any")
    assert (made.name, made.kinds) == ("uploads", BucketKinds.ANY)
    request = api.requests[-1]
    assert (request.method, str(request.url)) == ("PUT", f"{WRITE}/v1/buckets/uploads")
    assert request.headers["if-none-match"] == "*"
    assert json.loads(request.content) == {"kinds": "any"}
    default = client.create_bucket("plain")
    assert default.kinds is BucketKinds.VALIDATED
    assert json.loads(api.requests[-1].content) == {}
    with pytest.raises(BucketAlreadyExistsError) as caught:
        client.create_bucket("uploads", BucketKinds.VALIDATED)
    assert isinstance(caught.value, ConflictError)
    assert api.buckets["uploads"]["kinds"] == "any"  # an existing bucket is not changed
    sent = len(api.requests)
    with pytest.raises(ValueError):
        client.create_bucket("typo", "everything")
    assert len(api.requests) == sent  # refused before any request


def test_set_bucket_kinds_only_changes_a_bucket(clients: Clients, api: BucketAPI) -> None:
    api.add("photos")
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE)
    changed = client.set_bucket_kinds("photos", BucketKinds.ANY)
    assert changed.kinds is BucketKinds.ANY
    request = api.requests[-1]
    assert (request.method, str(request.url)) == ("PUT", f"{WRITE}/v1/buckets/photos")
    assert request.headers["if-match"] == "*"
    assert json.loads(request.content) == {"kinds": "any"}
    with pytest.raises(BucketNotFoundError):
        client.set_bucket_kinds("absent", "any")
    assert "absent" not in api.buckets


def test_delete_bucket(clients: Clients, api: BucketAPI) -> None:
    api.add("scratch")
    api.add("full")
    api.full.add("full")
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE)
    client.delete_bucket("scratch")
    assert (api.requests[-1].method, str(api.requests[-1].url)) == (
        "DELETE",
        f"{WRITE}/v1/buckets/scratch",
    )
    assert "scratch" not in api.buckets
    with pytest.raises(BucketNotEmptyError) as caught:
        client.delete_bucket("full")
    assert isinstance(caught.value, ConflictError)
    with pytest.raises(BucketNotFoundError):
        client.delete_bucket("scratch")


# -- against the embedded server --------------------------------------------------------------

BASE = "http://sangraha.test"


@pytest.fixture
async def embedded(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.ASGITransport, str]]:
    for name in ("SANGRAHA_API_KEY", "SANGRAHA_KEY", "SANGRAHA_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(data_dir=tmp_path / "data", auth="keys")
    first = create_key_locally(settings, [Grant.parse("*:read,list,write,admin")], "admin", None)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app), first.bearer


@pytest.mark.anyio
async def test_buckets_end_to_end(embedded: tuple[httpx.ASGITransport, str]) -> None:
    transport, admin = embedded
    async with AsyncClient(
        base_url=BASE, api_key=admin, transport=transport, max_retries=0
    ) as client:
        assert await client.list_buckets() == []
        made = await client.create_bucket("loose", "any")
        assert made.kinds is BucketKinds.ANY
        record = await client.put_object("loose", "notes.txt", b"hello", content_type="text/plain")
        assert record.kind is ObjectKind.OPAQUE
        # An upload to a bucket that does not exist makes it, with the default policy.
        await client.put_object("strict", "a.json", b"{}", content_type="application/json")
        listed = {b.name: b for b in await client.list_buckets()}
        assert (listed["loose"].objects, listed["loose"].bytes) == (1, 5)
        assert listed["strict"].kinds is BucketKinds.VALIDATED
        with pytest.raises(BucketAlreadyExistsError):
            await client.create_bucket("loose")
        assert (await client.set_bucket_kinds("strict", "any")).kinds is BucketKinds.ANY
        assert (await client.get_bucket("strict")).kinds is BucketKinds.ANY
        with pytest.raises(BucketNotEmptyError):
            await client.delete_bucket("loose")
        await client.create_bucket("empty")
        await client.delete_bucket("empty")
        with pytest.raises(BucketNotFoundError):
            await client.get_bucket("empty")
        reader = (await client.create_key(["strict:read,list"])).bearer
    async with AsyncClient(
        base_url=BASE, api_key=reader, transport=transport, max_retries=0
    ) as client:
        assert [b.name for b in await client.list_buckets()] == ["strict"]
        with pytest.raises(PermissionDeniedError):
            await client.set_bucket_kinds("strict", "validated")
