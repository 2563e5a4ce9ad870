"""The read path on the production backends: S3 (moto server) and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sangraha_core import Backends, Settings
from sangraha_getter import create_app
from tests.getter._seed import PNG_BYTES, Seed

pytestmark = [pytest.mark.anyio, pytest.mark.s3, pytest.mark.postgres]

DATA = bytes(range(256)) * 12_000 + os.urandom(777)


@pytest.fixture
def prod_backends(tmp_path: Path, s3_url: str, postgres_url: str) -> Iterator[Backends]:
    settings = Settings(data_dir=tmp_path, blob_url=s3_url, metadata_url=postgres_url)
    opened = Backends.from_settings(settings)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def bucket() -> str:
    # The database outlives one test: each test lists a bucket of its own.
    return f"b-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def prod_client(prod_backends: Backends) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(backends=prod_backends))
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        yield client


async def test_reads_on_s3_and_postgres(
    prod_client: httpx.AsyncClient, prod_backends: Backends, bucket: str
) -> None:
    seed = Seed(prod_backends)
    record = seed.ready("media/noise.png", DATA, "image/png", bucket=bucket)
    seed.ready("media/dot.png", PNG_BYTES, "image/png", bucket=bucket, metadata={"t": "x"})
    seed.pending("media/slow.json", bucket=bucket)
    url = f"/v1/buckets/{bucket}/objects/media/noise.png"

    whole = await prod_client.get(url)
    assert (whole.status_code, whole.content) == (200, DATA)
    assert whole.headers["etag"] == f'"{record.digest}"'

    ranged = await prod_client.get(url, headers={"Range": "bytes=1000-2000999"})
    assert ranged.status_code == 206
    assert ranged.content == DATA[1000:2001000]
    suffix = await prod_client.get(url, headers={"Range": "bytes=-10"})
    assert suffix.content == DATA[-10:]
    beyond = await prod_client.get(url, headers={"Range": f"bytes={len(DATA)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(DATA)}"

    cached = await prod_client.get(url, headers={"If-None-Match": f'W/"{record.digest}"'})
    assert cached.status_code == 304
    head = await prod_client.head(url)
    assert head.headers["content-length"] == str(len(DATA))

    by_digest = await prod_client.get(f"/v1/blobs/sha256:{record.digest.hex}")
    assert by_digest.content == DATA
    pending = await prod_client.get(f"/v1/buckets/{bucket}/objects/media/slow.json")
    assert pending.status_code == 409
    assert pending.headers["retry-after"]
    status = await prod_client.get(f"/v1/buckets/{bucket}/metadata/media/slow.json")
    assert status.json()["status"] == "pending"


async def test_listing_on_postgres(
    prod_client: httpx.AsyncClient, prod_backends: Backends, bucket: str
) -> None:
    seed = Seed(prod_backends)
    for n in range(30):
        seed.pending(f"k/{n:02d}.json", bucket=bucket, metadata={"even": str(n % 2 == 0)})
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7, "meta.even": "True"}
    while True:
        page = (await prod_client.get(f"/v1/buckets/{bucket}/objects", params=params)).json()
        seen.extend(item["key"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [f"k/{n:02d}.json" for n in range(0, 30, 2)]
