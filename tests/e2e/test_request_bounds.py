"""Against real processes, both topologies: absurd numbers, reused idempotency keys and
undecodable keys are 4xx problems; every answer is ``nosniff``; stored bytes are sandboxed."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from sangraha_client import Client, IdempotencyKeyReusedError
from tests._topology import Topology

pytestmark = pytest.mark.timeout(300)

HUGE = "9" * 4301
BODY = b'{"a": "<script>alert(1)</script>"}'
JSON = {"Content-Type": "application/json"}


def _bucket() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def _problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + slug)
    assert response.headers["x-content-type-options"] == "nosniff"


def _put_ready(topo: Topology, bucket: str, key: str, body: bytes) -> dict[str, object]:
    response = httpx.put(
        f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}",
        content=body,
        params={"wait": "30"},
        headers=JSON,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    record: dict[str, object] = response.json()
    assert record["status"] == "ready"
    return record


def test_a_range_past_any_size_is_416_by_key_and_by_id(topology: Topology) -> None:
    bucket = _bucket()
    record = _put_ready(topology, bucket, "doc.json", BODY)
    urls = [
        f"{topology.read_url}/v1/buckets/{bucket}/objects/doc.json",
        f"{topology.read_url}/v1/objects/{record['id']}/content",
    ]
    for url in urls:
        for _ in range(2):  # the second read of a key is answered from the cache when there is one
            refused = httpx.get(url, headers={"Range": f"bytes={HUGE}-"}, timeout=30)
            _problem(refused, 416, "invalid-range")
            assert refused.headers["content-range"] == f"bytes */{len(BODY)}"
        clamped = httpx.get(url, headers={"Range": f"bytes=2-{HUGE}"}, timeout=30)
        assert clamped.status_code == 206
        assert clamped.content == BODY[2:]
        ignored = httpx.get(url, headers={"Range": f"bytes={HUGE}"}, timeout=30)
        assert ignored.status_code == 200
        assert ignored.content == BODY


def test_an_idempotency_key_reused_with_another_body_is_422(topology: Topology) -> None:
    bucket = _bucket()
    url = f"{topology.write_url}/v1/buckets/{bucket}/objects/k.json"
    headers = {**JSON, "Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    first = httpx.put(url, content=BODY, headers=headers, params={"wait": "30"}, timeout=60)
    assert first.status_code == 200, first.text

    other = b'{"a": "another body"}'
    _problem(
        httpx.put(url, content=other, headers=headers, timeout=60), 422, "idempotency-key-reused"
    )
    declared = {**headers, "X-Sangraha-SHA256": hashlib.sha256(other).hexdigest()}
    _problem(
        httpx.put(url, content=other, headers=declared, timeout=60), 422, "idempotency-key-reused"
    )
    again = httpx.put(url, content=BODY, headers=headers, timeout=60)
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]

    listing = httpx.get(
        f"{topology.read_url}/v1/buckets/{bucket}/objects", params={"versions": "true"}, timeout=30
    )
    assert [item["id"] for item in listing.json()["items"]] == [first.json()["id"]]
    content = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/k.json", timeout=30)
    assert content.content == BODY


def test_the_sdk_raises_a_specific_error_for_a_reused_key(topology: Topology) -> None:
    bucket = _bucket()
    key = f"sdk-{uuid.uuid4().hex}"
    with Client(base_url=topology.read_url, write_url=topology.write_url) as client:
        first = client.put_object(bucket, "k.json", BODY, idempotency_key=key)
        with pytest.raises(IdempotencyKeyReusedError) as raised:
            client.put_object(bucket, "k.json", b'{"b": 2}', idempotency_key=key)
        assert raised.value.status_code == 422
        assert client.put_object(bucket, "k.json", BODY, idempotency_key=key).id == first.id


def test_keys_that_are_not_utf8_are_400_and_name_nothing(topology: Topology) -> None:
    bucket = _bucket()
    _put_ready(topology, bucket, "%EF%BF%BD%EF%BF%BD", BODY)
    for raw in ("%FE%FF", "%FF%FE"):
        put = httpx.put(
            f"{topology.write_url}/v1/buckets/{bucket}/objects/{raw}",
            content=b"{}",
            headers=JSON,
            timeout=30,
        )
        _problem(put, 400, "invalid-name")
        get = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/{raw}", timeout=30)
        _problem(get, 400, "invalid-name")
    listed = httpx.get(
        f"{topology.read_url}/v1/buckets/{bucket}/objects", params={"prefix": "x"}, timeout=30
    )
    assert listed.status_code == 200
    bad_prefix = httpx.get(
        f"{topology.read_url}/v1/buckets/{bucket}/objects?prefix=%FE", timeout=30
    )
    _problem(bad_prefix, 400, "invalid-request")
    sent = httpx.get(
        f"{topology.read_url}/v1/buckets/{bucket}/objects/%EF%BF%BD%EF%BF%BD", timeout=30
    )
    assert sent.status_code == 200
    assert sent.content == BODY


def test_answers_are_nosniff_and_content_is_sandboxed(topology: Topology) -> None:
    bucket = _bucket()
    record = _put_ready(topology, bucket, "page.json", BODY)
    content_urls = [
        f"{topology.read_url}/v1/buckets/{bucket}/objects/page.json",
        f"{topology.read_url}/v1/objects/{record['id']}/content",
    ]
    for url in content_urls:
        for _ in range(2):  # cold, then from the read cache where there is one
            response = httpx.get(url, timeout=30)
            assert response.status_code == 200
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"
            assert response.headers["content-type"] == "application/json"
    others = [
        httpx.put(
            f"{topology.write_url}/v1/buckets/{bucket}/objects/x.json", content=b"{}", timeout=30
        ),
        httpx.get(f"{topology.write_url}/healthz", timeout=30),
        httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects", timeout=30),
        httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/metadata/page.json", timeout=30),
        httpx.get(f"{topology.read_url}/metrics", timeout=30),
    ]
    for response in others:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
    console = httpx.get(f"{topology.read_url}/console", timeout=30)
    assert console.status_code == 200
    assert console.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" not in console.headers["content-security-policy"]
