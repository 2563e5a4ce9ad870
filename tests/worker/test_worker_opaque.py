"""Opaque objects through the worker: in an ``any`` bucket, any content type is stored under
its digest, deduplicated, listed and read back as sent, with nothing validated."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from sangraha_core import (
    SMALL_OBJECT_SIZE,
    Backends,
    BucketKinds,
    Digest,
    Ingest,
    ListQuery,
    ObjectKind,
    ObjectStatus,
    blob_key,
)
from sangraha_getter import create_app
from sangraha_worker import Worker
from tests.worker._staging import staged

FAST: dict[str, Any] = {"poll_interval": 0.05, "burst_idle": 0.3}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_opaque_objects_are_stored_deduplicated_listed_and_read_back(
    backends: Backends,
) -> None:
    backends.metadata.create_bucket("anything", BucketKinds.ANY)
    ingest = Ingest(backends)
    text = b"plain text, never validated\n"
    # Bytes that look like a PDF but are typed otherwise are not a PDF to anyone.
    disguised = b"%PDF-1.7 but not really a PDF at all"
    large = os.urandom(SMALL_OBJECT_SIZE + 12_345)
    first = ingest.accept("anything", "notes/a.txt", "text/plain", [text], metadata={"team": "x"})
    again = ingest.accept("anything", "notes/b.txt", "text/plain", [text])
    odd = ingest.accept("anything", "odd.bin", "application/x-thing", [disguised])
    big = ingest.accept("anything", "big.bin", "", [large[:1000], large[1000:]])

    assert Worker(backends, burst=True, **FAST).run_check() == 4

    records = {r.key: r for r in backends.metadata.list_objects(ListQuery(bucket="anything")).items}
    assert sorted(records) == ["big.bin", "notes/a.txt", "notes/b.txt", "odd.bin"]
    for record in records.values():
        assert record.status is ObjectStatus.READY, record.error
        assert record.kind is ObjectKind.OPAQUE
        assert record.extracted == {}
        assert not staged(backends, record.id)
    assert records["big.bin"].content_type == "application/octet-stream"
    assert records["odd.bin"].content_type == "application/x-thing"
    # One blob for the two copies of the text, referenced twice.
    assert first.digest == again.digest == Digest.of(text)
    assert backends.metadata.blob_refcount(first.digest) == 2
    assert b"".join(backends.blobs.get(blob_key(first.digest))) == text
    assert big.digest == Digest.of(large)
    # Listed and searched by key prefix, kind and user metadata like any object.
    by_kind = backends.metadata.list_objects(ListQuery(bucket="anything", kind=ObjectKind.OPAQUE))
    assert len(by_kind.items) == 4
    searched = backends.metadata.list_objects(
        ListQuery(bucket="anything", prefix="notes/", metadata={"team": "x"})
    )
    assert [r.id for r in searched.items] == [first.id]

    transport = httpx.ASGITransport(app=create_app(backends=backends))
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        for key, body, content_type in (
            ("notes/a.txt", text, "text/plain"),
            ("odd.bin", disguised, "application/x-thing"),
            ("big.bin", large, "application/octet-stream"),
        ):
            answer = await client.get(f"/v1/buckets/anything/objects/{key}")
            assert answer.status_code == 200, answer.text
            assert answer.content == body
            assert answer.headers["content-type"] == content_type
        listed = await client.get("/v1/buckets/anything/objects", params={"kind": "opaque"})
        assert listed.status_code == 200
        assert len(listed.json()["items"]) == 4
    assert odd.id in {r.id for r in records.values()}
    assert big.id == records["big.bin"].id
