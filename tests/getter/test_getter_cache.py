"""The read cache: small blobs by digest everywhere, records by key only where coherent.

A new version or a delete of a key must never be answered from the cache; bytes by
digest may be, since they never change.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from sangraha_core import Backends, Digest, Settings, blob_key
from sangraha_getter import create_app
from sangraha_getter.cache import MAX_CACHED_BLOB, ReadCache
from tests.getter._seed import BUCKET, Seed

pytestmark = pytest.mark.anyio


@pytest.fixture
def coherent_app(backends: Backends) -> FastAPI:
    """The getter as ``sangraha serve`` runs it: writes and reads on one metadata store."""
    app = create_app(backends=backends)
    app.state.read_cache = ReadCache(backends, coherent_keys=True)
    return app


@pytest.fixture
async def coherent(coherent_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=coherent_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        yield client


def _url(key: str) -> str:
    return f"/v1/buckets/{BUCKET}/objects/{key}"


async def test_a_new_version_is_served_at_once(
    coherent: httpx.AsyncClient, coherent_app: FastAPI, seed: Seed
) -> None:
    seed.ready("doc.json", b'{"v":1}')
    assert (await coherent.get(_url("doc.json"))).content == b'{"v":1}'
    cache: ReadCache = coherent_app.state.read_cache
    assert cache.record(BUCKET, "doc.json") is not None, "the record was not cached"

    seed.ready("doc.json", b'{"v":2}')
    assert (await coherent.get(_url("doc.json"))).content == b'{"v":2}'


async def test_a_pending_version_leaves_the_ready_one_served(
    coherent: httpx.AsyncClient, seed: Seed
) -> None:
    seed.ready("doc.json", b'{"v":1}')
    await coherent.get(_url("doc.json"))
    seed.pending("doc.json", b'{"v":2}')
    assert (await coherent.get(_url("doc.json"))).content == b'{"v":1}'


async def test_a_delete_is_seen_at_once(
    coherent: httpx.AsyncClient, seed: Seed, backends: Backends
) -> None:
    seed.ready("doc.json", b'{"v":1}')
    assert (await coherent.get(_url("doc.json"))).status_code == 200
    backends.metadata.delete_objects(BUCKET, "doc.json")
    assert (await coherent.get(_url("doc.json"))).status_code == 404


async def test_a_read_that_raced_a_change_is_not_kept(backends: Backends, seed: Seed) -> None:
    cache = ReadCache(backends, coherent_keys=True)
    old = seed.ready("doc.json", b'{"v":1}')
    epoch = cache.epoch  # a read begins ...
    seed.ready("doc.json", b'{"v":2}')  # ... a new version lands while it runs ...
    cache.keep_record(old, epoch)  # ... and what it read is now stale
    assert cache.record(BUCKET, "doc.json") is None


async def test_changes_from_another_thread_reach_the_cache(backends: Backends, seed: Seed) -> None:
    cache = ReadCache(backends, coherent_keys=True)
    first = seed.ready("doc.json", b'{"v":1}')
    cache.keep_record(first, cache.epoch)
    writer = threading.Thread(target=seed.ready, args=("doc.json", b'{"v":2}'))
    writer.start()
    writer.join()
    assert cache.record(BUCKET, "doc.json") is None


async def test_a_getter_of_its_own_never_caches_by_key(app: FastAPI, backends: Backends) -> None:
    # Writers in other processes cannot tell this cache of a change.
    cache = ReadCache(backends)
    assert not cache.caches_keys
    first = Seed(backends).ready("doc.json", b"{}")
    cache.keep_record(first, cache.epoch)
    assert cache.record(BUCKET, "doc.json") is None


async def test_small_content_is_served_from_the_cache(
    client: httpx.AsyncClient, seed: Seed, backends: Backends
) -> None:
    record = seed.ready("doc.json", b'{"cached":true}')
    assert (await client.get(_url("doc.json"))).content == b'{"cached":true}'
    # Gone from the blob store: only the cache can answer now.
    backends.blobs.delete(blob_key(record.digest))
    again = await client.get(_url("doc.json"))
    assert again.status_code == 200
    assert again.content == b'{"cached":true}'
    ranged = await client.get(_url("doc.json"), headers={"Range": "bytes=1-8"})
    assert ranged.status_code == 206
    assert ranged.content == b'"cached"'


async def test_large_content_is_not_cached(
    client: httpx.AsyncClient, seed: Seed, backends: Backends
) -> None:
    data = b"[" + b"1," * (MAX_CACHED_BLOB // 2) + b"1]"
    record = seed.ready("big.json", data)
    assert (await client.get(_url("big.json"))).content == data
    backends.blobs.delete(blob_key(record.digest))
    assert (await client.get(_url("big.json"))).status_code >= 400


@pytest.mark.redis
async def test_blobs_are_shared_through_redis(redis_url: str, backends: Backends) -> None:
    settings = Settings(data_dir=backends.settings.data_dir, cache_url=redis_url)
    shared = Backends(settings, backends.blobs, backends.metadata, backends.queue)
    data = b'{"through":"redis"}' + uuid.uuid4().hex.encode()  # new bytes every run
    digest = Digest.of(data)
    one, other = ReadCache(shared), ReadCache(shared)
    try:
        assert await other.blob(digest) is None
        await one.keep_blob(digest, data)
        assert await other.blob(digest) == data
    finally:
        await one.close()
        await other.close()


async def test_a_redis_outage_is_a_miss(backends: Backends) -> None:
    settings = Settings(data_dir=backends.settings.data_dir, cache_url="redis://127.0.0.1:1/0")
    cache = ReadCache(Backends(settings, backends.blobs, backends.metadata, backends.queue))
    digest = Digest.of(b"x")
    try:
        await cache.keep_blob(digest, b"x")
        assert await cache.blob(digest) is None
    finally:
        await cache.close()
