"""Uploads through the receiver, on embedded and production backends alike."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from sangraha_core import Backends, ObjectStatus
from sangraha_receiver import create_app
from tests.receiver._support import (
    JSON_BODY,
    BackendsFactory,
    assert_problem,
    chunked,
    content_digest,
    drain,
    records,
    staged_bytes,
    staging_keys,
)

pytestmark = pytest.mark.anyio


async def test_put_accepts_stages_records_and_queues(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    response = await client.put(
        f"/v1/buckets/{bucket}/objects/docs/hello.json",
        content=JSON_BODY,
        headers={
            b"Content-Type": b"application/json; charset=utf-8",
            b"Content-Digest": content_digest(JSON_BODY).encode(),
            b"X-Sangraha-Meta-Owner": b"ravi",
            b"X-Sangraha-Meta-Project": "sangraha ✓".encode(),  # UTF-8 on the wire
        },
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/objects/{body['id']}"
    assert body["bucket"] == bucket
    assert body["key"] == "docs/hello.json"
    assert body["status"] == "pending"
    assert body["kind"] == "json"
    assert body["content_type"] == "application/json"
    assert body["size"] == len(JSON_BODY)
    assert body["digest"] == "sha256:" + hashlib.sha256(JSON_BODY).hexdigest()
    assert body["metadata"] == {"owner": "ravi", "project": "sangraha ✓"}
    assert staged_bytes(backends, body["id"]) == JSON_BODY
    [stored] = records(backends, bucket)
    assert stored.id == body["id"] and stored.status is ObjectStatus.PENDING
    assert [m.object_id for m in drain(backends)] == [body["id"]]


async def test_post_generates_the_key(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    response = await client.post(
        f"/v1/buckets/{bucket}/objects",
        content=JSON_BODY,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["key"] == body["id"]
    assert [m.object_id for m in drain(backends)] == [body["id"]]


async def test_sangraha_sha256_header_is_checked(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    good = hashlib.sha256(JSON_BODY).hexdigest().upper()
    ok = await client.put(
        f"/v1/buckets/{bucket}/objects/a.json",
        content=JSON_BODY,
        headers={"Content-Type": "application/json", "X-Sangraha-SHA256": good},
    )
    assert ok.status_code == 202, ok.text

    bad = await client.put(
        f"/v1/buckets/{bucket}/objects/b.json",
        content=JSON_BODY,
        headers={"Content-Type": "application/json", "X-Sangraha-SHA256": "0" * 64},
    )
    assert_problem(bad, 400, "checksum-mismatch")
    assert [r.key for r in records(backends, bucket)] == ["a.json"]


async def test_checksum_mismatch_leaves_nothing(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    response = await client.put(
        f"/v1/buckets/{bucket}/objects/x.json",
        content=JSON_BODY,
        headers={"Content-Type": "application/json", "Content-Digest": content_digest(b"other")},
    )

    body = assert_problem(response, 400, "checksum-mismatch")
    assert body["expected"] == "sha256:" + hashlib.sha256(b"other").hexdigest()
    assert body["actual"] == "sha256:" + hashlib.sha256(JSON_BODY).hexdigest()
    assert staging_keys(backends) == []
    assert records(backends, bucket) == []
    assert drain(backends, timeout=0.2) == []


async def test_chunked_body_over_the_limit_is_refused_and_leaves_nothing(
    make_embedded: BackendsFactory, bucket: str
) -> None:
    backends: Backends = make_embedded(max_object_size=100_000)
    app = create_app(backends=backends)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        response = await c.put(
            f"/v1/buckets/{bucket}/objects/big.json",
            content=chunked(b" " * 300_000, size=10_000),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers

        body = assert_problem(response, 413, "too-large")
        assert body["limit"] == 100_000
        assert staging_keys(backends) == []
        assert records(backends, bucket) == []
        assert drain(backends, timeout=0.2) == []

        # Refused by its declared length before a byte is read.
        declared = await c.put(
            f"/v1/buckets/{bucket}/objects/big.json",
            content=b" " * 100_001,
            headers={"Content-Type": "application/json"},
        )
        assert_problem(declared, 413, "too-large")

        # Exactly at the limit is fine.
        at_limit = await c.put(
            f"/v1/buckets/{bucket}/objects/big.json",
            content=chunked(b" " * 100_000, size=30_000),
            headers={"Content-Type": "application/json"},
        )
        assert at_limit.status_code == 202, at_limit.text
        assert at_limit.json()["size"] == 100_000


async def test_idempotent_retry_returns_the_same_record(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": "retry-me-123"}
    first = await client.put(
        f"/v1/buckets/{bucket}/objects/k.json", content=JSON_BODY, headers=headers
    )
    second = await client.put(
        f"/v1/buckets/{bucket}/objects/k.json", content=JSON_BODY, headers=headers
    )

    assert first.status_code == 202, first.text
    assert second.status_code == 202, second.text
    assert second.json() == first.json()
    assert len(records(backends, bucket)) == 1
    assert staging_keys(backends) == [f"staging/{first.json()['id']}"]
    assert [m.object_id for m in drain(backends)] == [first.json()["id"]]

    # The same key for a different request is refused.
    other = await client.put(
        f"/v1/buckets/{bucket}/objects/other.json", content=JSON_BODY, headers=headers
    )
    assert_problem(other, 422, "idempotency-key-reused")


async def test_idempotent_post_retry_returns_the_same_record(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": "post-once"}
    first = await client.post(f"/v1/buckets/{bucket}/objects", content=JSON_BODY, headers=headers)
    second = await client.post(f"/v1/buckets/{bucket}/objects", content=JSON_BODY, headers=headers)

    assert first.status_code == second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert len(drain(backends)) == 1


async def test_delete_removes_every_version_or_one(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    url = f"/v1/buckets/{bucket}/objects/dir/d.json"
    ids = []
    for _ in range(3):
        put = await client.put(url, content=JSON_BODY, headers={"Content-Type": "application/json"})
        ids.append(put.json()["id"])

    one = await client.delete(url, params={"version": ids[0]})
    assert one.status_code == 204 and one.content == b""
    assert sorted(r.id for r in records(backends, bucket)) == sorted(ids[1:])

    rest = await client.delete(url)
    assert rest.status_code == 204
    assert records(backends, bucket) == []

    assert_problem(await client.delete(url), 404, "not-found")
    assert_problem(await client.delete(url, params={"version": ids[0]}), 404, "not-found")
