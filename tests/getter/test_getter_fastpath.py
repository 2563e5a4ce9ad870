"""The read fast path of ``sangraha serve`` answers exactly as the content route does.

Each request is sent twice to the same running app: as it is, which the fast path answers
from the cache once the key is warm, and with an extra query parameter, which the fast
path always leaves to the FastAPI route (that ignores unknown parameters). Status, every
header but ``date`` and ``x-request-id``, and the body must be the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.types import Scope, Send

from sangraha_core import Backends, ObjectRecord, Settings
from sangraha_getter import fastpath
from sangraha_getter.cache import CachedKey, ReadCache
from sangraha_getter.fastpath import ReadFastPath
from sangraha_server._app import create_app
from tests.getter._seed import BUCKET, PNG_BYTES, Seed

pytestmark = pytest.mark.anyio

API_KEY = "fast-path-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
TEMPLATE = "/v1/buckets/{bucket}/objects/{key:objectkey}"
#: Keys that are valid but hard to carry: quotes, percent signs, spaces, non-ASCII.
KEYS = [
    "plain.json",
    'we"ird %20 ;name.json',
    "dir/ünïcödé 文件.json",
    "a/b/c/trailing-dot.",
    "semi;colon,comma=eq&amp?.json",
]
#: Paths the content route refuses or does not find; the fast path must let them through.
MISSES = [
    "/v1/buckets/" + BUCKET + "/objects/",
    "/v1/buckets/" + BUCKET + "/objects/..%2Fescape",
    "/v1/buckets/" + BUCKET + "/objects/new%0Aline",
    "/v1/buckets/Bad_Bucket/objects/plain.json",
    "/v1/buckets/" + BUCKET + "/objects/never-written.json",
]


class _Spy:
    """Counts the requests the fast path answered itself, and the keys it looked up."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answered = 0
        self.looked_up = 0
        original = ReadFastPath._answer
        resolve = fastpath._resolve

        async def answer(path: ReadFastPath, scope: Scope, send: Send) -> bool:
            done = await original(path, scope, send)
            self.answered += done
            return done

        async def counted(
            cache: ReadCache,
            backends: Backends,
            bucket: str,
            key: str,
            threads: anyio.CapacityLimiter,
        ) -> CachedKey | None:
            self.looked_up += 1
            return await resolve(cache, backends, bucket, key, threads)

        monkeypatch.setattr(ReadFastPath, "_answer", answer)
        monkeypatch.setattr(fastpath, "_resolve", counted)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    return _Spy(monkeypatch)


Served = tuple[httpx.AsyncClient, Seed]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """``sangraha serve``'s app, started (worker, cache) and driven in process."""
    app: FastAPI = create_app(Settings(data_dir=tmp_path, api_key=API_KEY, auth="keys"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sangraha", headers=AUTH
        ) as client:
            backends: Backends = app.state.backends
            yield client, Seed(backends)


def _url(key: str) -> str:
    return f"/v1/buckets/{BUCKET}/objects/{quote(key, safe='/')}"


async def _answer(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.request(method, path, headers=headers)
    kept = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in ("date", "x-request-id")
    )
    return {"status": response.status_code, "headers": kept, "body": response.content}


async def _both(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    cold: bool = False,
) -> dict[str, Any]:
    """The answer as it is, checked against the FastAPI route's; with ``cold``, the
    direct request goes first, so the fast path meets a key it has not cached."""
    headers = headers or {}
    routed_path = path + ("&" if "?" in path else "?") + "ref=1"
    if cold:
        direct = await _answer(client, method, path, headers)
        routed = await _answer(client, method, routed_path, headers)
    else:
        routed = await _answer(client, method, routed_path, headers)
        direct = await _answer(client, method, path, headers)
    assert direct == routed, f"{method} {path} {headers}"
    return direct


async def _status(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    cold: bool = False,
) -> int:
    status: int = (await _both(client, method, path, headers, cold=cold))["status"]
    return status


async def test_answers_match_the_route(served: Served, spy: _Spy) -> None:
    client, seed = served
    meta = {"title": "Ünïcode · title", "plain": "x", "spaces": "  padded  ", "enc": "UTF-8''x"}
    for key in KEYS:
        seed.ready(key, b'{"k": "%s"}' % key.encode(), metadata=meta)
    seed.ready("pixel.png", PNG_BYTES, "image/png")
    seed.ready("empty.json", b"")
    keys = [*KEYS, "pixel.png", "empty.json"]
    for key in keys:
        url = _url(key)
        ok = await _both(client, "GET", url)
        assert ok["status"] == 200
        assert await _status(client, "HEAD", url) == 200
        etag = dict(ok["headers"])["etag"]
        for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            assert await _status(client, "GET", url, {"If-None-Match": condition}) == 304
            assert await _status(client, "HEAD", url, {"If-None-Match": condition}) == 304
        assert await _status(client, "GET", url, {"If-None-Match": '"other"'}) == 200
    # Each key: GET, HEAD, four 304s twice, a non-matching condition.
    assert spy.answered == len(keys) * 11
    assert spy.looked_up == 0, "the route's reads should have filled the cache"

    # Ranges, versions and refused or unknown paths are the route's.
    spy.answered = 0
    url = _url(KEYS[0])
    assert await _status(client, "GET", url, {"Range": "bytes=0-3"}) == 206
    assert await _status(client, "GET", url, {"Range": "bytes=0-3", "If-Range": '"x"'}) == 200
    assert await _status(client, "GET", url + "?version=nope") == 404
    for path in MISSES:
        assert await _status(client, "GET", path) in (400, 404)
    assert spy.answered == 0


async def test_cold_answers_match_the_route(served: Served, spy: _Spy) -> None:
    """A key not cached yet: the fast path looks it up and reads its blob itself."""
    client, seed = served
    meta = {"title": "Ünïcode · title", "plain": "x"}
    for key in KEYS:
        seed.ready(key, b'{"k": "%s"}' % key.encode(), metadata=meta)
        seed.ready("head/" + key, b"{}", metadata=meta)
    for key in KEYS:
        assert (await _both(client, "GET", _url(key), cold=True))["body"].startswith(b'{"k"')
        assert await _status(client, "HEAD", _url("head/" + key), cold=True) == 200
    assert spy.answered == spy.looked_up == 2 * len(KEYS)

    # Pending, failed and missing keys are the route's to answer, with its problems.
    spy.answered = 0
    seed.pending("pending.json")
    seed.failed("failed.json", "not JSON")
    assert await _status(client, "GET", _url("pending.json"), cold=True) == 409
    assert await _status(client, "GET", _url("failed.json"), cold=True) in (404, 409)
    for path in MISSES:
        assert await _status(client, "GET", path, cold=True) in (400, 404)
    assert spy.answered == 0


async def test_new_versions_and_deletes_are_never_stale(served: Served, spy: _Spy) -> None:
    client, seed = served
    url = _url("doc.json")
    seed.ready("doc.json", b'{"v":1}')
    assert (await client.get(url)).content == b'{"v":1}'
    assert (await client.get(url)).content == b'{"v":1}'
    assert (spy.answered, spy.looked_up) == (2, 1)

    seed.ready("doc.json", b'{"v":2}', metadata={"rev": "2"})
    answer = await client.get(url)
    assert answer.content == b'{"v":2}'
    assert answer.headers["x-sangraha-meta-rev"] == "2"
    assert (await client.get(url)).content == b'{"v":2}'
    assert (spy.answered, spy.looked_up) == (4, 2)

    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404
    assert (await client.head(url)).status_code == 404
    assert spy.answered == 4


async def test_a_lookup_that_raced_a_change_is_left_to_the_route(
    served: Served, spy: _Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, seed = served
    seed.ready("doc.json", b'{"v":1}')
    keep = ReadCache.keep_record

    def raced(cache: ReadCache, record: ObjectRecord, epoch: int) -> CachedKey | None:
        # A new version lands between the lookup and keeping what it read.
        cache.forget_key(record.bucket, record.key)
        return keep(cache, record, epoch)

    monkeypatch.setattr(ReadCache, "keep_record", raced)
    assert (await client.get(_url("doc.json"))).content == b'{"v":1}'
    assert (spy.answered, spy.looked_up) == (0, 1)


async def test_the_api_key_ids_and_metrics_still_apply(served: Served, spy: _Spy) -> None:
    client, seed = served
    url = _url("doc.json")
    seed.ready("doc.json", b"{}")
    await client.get(url)
    spy.answered = 0
    labels = {"service": "sangraha", "method": "GET", "route": TEMPLATE, "status": "200"}
    before = REGISTRY.get_sample_value("sangraha_http_requests_total", labels) or 0.0

    answer = await client.get(url, headers={"X-Request-ID": "trace-1"})
    assert answer.headers["x-request-id"] == "trace-1"
    assert (await client.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert spy.answered == 1
    assert REGISTRY.get_sample_value("sangraha_http_requests_total", labels) == before + 1


async def test_bounds_and_headers_are_the_same_on_both_paths(served: Served, spy: _Spy) -> None:
    client, seed = served
    record = seed.ready("doc.json", b'{"a": "<script>alert(1)</script>"}')
    url = _url("doc.json")
    ok = await _both(client, "GET", url)
    headers = dict(ok["headers"])
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert spy.answered == 1

    # Ranges and dates are the route's: the fast path never answers them its own way.
    spy.answered = 0
    huge = "9" * 4301
    refused = await _both(client, "GET", url, {"Range": f"bytes={huge}-"})
    assert refused["status"] == 416
    assert dict(refused["headers"])["content-range"] == f"bytes */{record.size}"
    assert await _status(client, "GET", url, {"Range": f"bytes={huge}"}) == 200
    modified = headers["last-modified"]
    assert await _status(client, "GET", url, {"If-Modified-Since": modified}) == 304
    assert await _status(client, "HEAD", url, {"If-Modified-Since": modified}) == 304
    stale = "Mon, 01 Jan 1990 00:00:00 GMT"
    assert await _status(client, "GET", url, {"If-Modified-Since": stale}) == 200
    assert spy.answered == 0

    # Bytes that are not UTF-8 never reach the fast path, which sees decoded paths only.
    for path in ("%FE%FF", "%FF%FE"):
        response = await client.get(f"/v1/buckets/{BUCKET}/objects/{path}")
        assert response.status_code == 400
        assert response.headers["x-content-type-options"] == "nosniff"
    assert spy.answered == 0 and spy.looked_up == 0
