"""What the receiver refuses before storing anything: names, types, headers, metadata."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from sangraha_core import Backends
from tests.receiver._support import (
    JSON_BODY,
    assert_problem,
    content_digest,
    drain,
    records,
    staging_keys,
)

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/buckets/bucket-ok/objects/a/%2E%2E/b",
        "/v1/buckets/bucket-ok/objects/a%00b",
        "/v1/buckets/bucket-ok/objects/a%01b",
        "/v1/buckets/bucket-ok/objects/a%0Ab",
        "/v1/buckets/bucket-ok/objects/a%0Db%0A",
        "/v1/buckets/bucket-ok/objects/a%5Cb",
        "/v1/buckets/bucket-ok/objects/a//b",
        "/v1/buckets/bucket-ok/objects/%2Fabs",
        "/v1/buckets/bucket-ok/objects/" + "k" * 1025,
        "/v1/buckets/bucket-ok/objects/",
        "/v1/buckets/BUCKET/objects/key",
        "/v1/buckets/b/objects/key",
        "/v1/buckets/a..b/objects/key",
        "/v1/buckets/%2E%2E/objects/key",
        "/v1/buckets/bu%00ck/objects/key",
        "/v1/buckets/" + "b" * 64 + "/objects/key",
    ],
)
async def test_hostile_names_are_refused(
    embedded_client: httpx.AsyncClient, embedded: Backends, path: str
) -> None:
    response = await embedded_client.put(path, content=JSON_BODY, headers=JSON)

    assert_problem(response, 400, "invalid-name")
    assert staging_keys(embedded) == []
    assert records(embedded, "bucket-ok") == []


async def test_hostile_key_on_delete_is_refused(embedded_client: httpx.AsyncClient) -> None:
    response = await embedded_client.delete("/v1/buckets/bucket-ok/objects/a%00b")
    assert_problem(response, 400, "invalid-name")


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/jsonx", "image/*"])
async def test_unsupported_content_type_is_415(
    embedded_client: httpx.AsyncClient, embedded: Backends, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=headers
    )

    body = assert_problem(response, 415, "unsupported-content-type")
    for accepted in ("application/json", "image/png", "image/webp", "application/pdf"):
        assert accepted in str(body["detail"])
    assert staging_keys(embedded) == []


async def test_content_type_is_matched_without_case_or_parameters(
    embedded_client: httpx.AsyncClient,
) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x.png",
        content=b"\x89PNG\r\n\x1a\n",
        headers={"Content-Type": "IMAGE/PNG ; q=1"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["content_type"] == "image/png"
    assert response.json()["kind"] == "image"


async def test_empty_body_is_stored_for_the_worker_to_judge(
    embedded_client: httpx.AsyncClient, embedded: Backends
) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/e", content=b"", headers=JSON
    )
    assert response.status_code == 202, response.text
    assert response.json()["size"] == 0
    assert response.json()["digest"] == "sha256:" + hashlib.sha256(b"").hexdigest()
    assert len(drain(embedded)) == 1


@pytest.mark.parametrize(
    ("headers", "slug"),
    [
        ({"Content-Digest": "sha-256=abc"}, "invalid-request"),
        ({"Content-Digest": "sha-256=:not base64!:"}, "invalid-request"),
        ({"Content-Digest": "sha-256=:AAAA:"}, "invalid-request"),
        ({"Content-Digest": "sha-256"}, "invalid-request"),
        ({"Content-Digest": "sha-256=:" + "A" * 43 + "=:,"}, "invalid-request"),
        ({"X-Sangraha-SHA256": "abc"}, "invalid-request"),
        ({"X-Sangraha-SHA256": "g" * 64}, "invalid-request"),
        ({"Idempotency-Key": "k" * 256}, "invalid-request"),
        ({"Idempotency-Key": ""}, "invalid-request"),
        ({"Idempotency-Key": "tab\there"}, "invalid-request"),
        ({"Content-Length": "12x"}, "invalid-request"),
        ({"X-Sangraha-Meta-": "v"}, "invalid-metadata"),
        ({"X-Sangraha-Meta-B@d": "v"}, "invalid-metadata"),
        ({"X-Sangraha-Meta-Big": "v" * 9000}, "invalid-metadata"),
        ({"X-Sangraha-Meta-Ctl": "a\x7fb"}, "invalid-metadata"),
    ],
)
async def test_malformed_headers_are_400(
    embedded: Backends,
    embedded_client: httpx.AsyncClient,
    headers: dict[str, str],
    slug: str,
) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers={**JSON, **headers}
    )
    assert_problem(response, 400, slug)
    assert staging_keys(embedded) == []
    assert records(embedded, "bucket-ok") == []


async def test_too_many_metadata_entries_are_400(embedded_client: httpx.AsyncClient) -> None:
    meta = {f"X-Sangraha-Meta-K{n}": "v" for n in range(33)}
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers={**JSON, **meta}
    )
    assert_problem(response, 400, "invalid-metadata")

    within = dict(list(meta.items())[:32])
    ok = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers={**JSON, **within}
    )
    assert ok.status_code == 202, ok.text
    assert len(ok.json()["metadata"]) == 32


async def test_metadata_sent_twice_is_400(embedded_client: httpx.AsyncClient) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x",
        content=JSON_BODY,
        headers=[
            ("Content-Type", "application/json"),
            ("X-Sangraha-Meta-Tag", "a"),
            ("x-sangraha-meta-tag", "b"),
        ],
    )
    assert_problem(response, 400, "invalid-metadata")


async def test_other_digest_algorithms_are_ignored(embedded_client: httpx.AsyncClient) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x",
        content=JSON_BODY,
        headers={**JSON, "Content-Digest": "sha-512=:AAAA:, md5=:AAAA:;x=1"},
    )
    assert response.status_code == 202, response.text


async def test_sha256_is_found_among_other_algorithms(
    embedded_client: httpx.AsyncClient,
) -> None:
    wrong = "sha-512=:AAAA:, " + content_digest(b"not the body")
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x",
        content=JSON_BODY,
        headers={**JSON, "Content-Digest": wrong},
    )
    assert_problem(response, 400, "checksum-mismatch")


async def test_disagreeing_digest_headers_are_400(embedded_client: httpx.AsyncClient) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x",
        content=JSON_BODY,
        headers={
            **JSON,
            "Content-Digest": content_digest(JSON_BODY),
            "X-Sangraha-SHA256": "0" * 64,
        },
    )
    assert_problem(response, 400, "invalid-request")


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
async def test_wait_out_of_range_is_400(embedded_client: httpx.AsyncClient, wait: str) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=JSON, params={"wait": wait}
    )
    assert_problem(response, 400, "invalid-request")
