"""What an upload takes from its request, bounded: idempotency keys bind the body too,
keys must be UTF-8, numbers never reach int() unbounded; every answer is ``nosniff``.
On embedded and production backends alike."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from sangraha_core import Backends, Digest, IdempotencyKeyReusedError, Ingest, staging_key
from tests.receiver._support import (
    JSON_BODY,
    assert_problem,
    chunked,
    content_digest,
    drain,
    records,
    staged_bytes,
    staging_keys,
)

pytestmark = pytest.mark.anyio

OTHER_BODY = b'{"hello": "someone else"}'
HUGE = "9" * 4301


async def test_an_idempotency_key_reused_with_another_body_is_422(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    url = f"/v1/buckets/{bucket}/objects/k.json"
    headers = {"Content-Type": "application/json", "Idempotency-Key": "body-bound"}
    first = await client.put(url, content=JSON_BODY, headers=headers)
    assert first.status_code == 202, first.text
    first_id = first.json()["id"]

    # Streamed without a declared digest: hashed on the way, refused at its end.
    streamed = await client.put(url, content=chunked(OTHER_BODY, size=7), headers=headers)
    problem = assert_problem(streamed, 422, "idempotency-key-reused")
    assert "digest" in str(problem["detail"])
    # Declared up front, either way: refused before the body is read.
    for declared in (
        {"Content-Digest": content_digest(OTHER_BODY)},
        {"X-Sangraha-SHA256": hashlib.sha256(OTHER_BODY).hexdigest()},
    ):
        refused = await client.put(url, content=OTHER_BODY, headers={**headers, **declared})
        assert_problem(refused, 422, "idempotency-key-reused")

    # The same body again, declared or not, is the first answer.
    for extra in ({}, {"Content-Digest": content_digest(JSON_BODY)}):
        again = await client.put(url, content=JSON_BODY, headers={**headers, **extra})
        assert again.status_code == 202
        assert again.json() == first.json()

    assert [r.id for r in records(backends, bucket)] == [first_id]
    assert staging_keys(backends) == [staging_key(first_id)]
    assert staged_bytes(backends, first_id) == JSON_BODY
    assert [m.object_id for m in drain(backends)] == [first_id]


async def test_a_post_idempotency_key_reused_with_another_body_is_422(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    url = f"/v1/buckets/{bucket}/objects"
    headers = {"Content-Type": "application/json", "Idempotency-Key": "post-body-bound"}
    first = await client.post(url, content=JSON_BODY, headers=headers)
    assert first.status_code == 202
    refused = await client.post(url, content=OTHER_BODY, headers=headers)
    assert_problem(refused, 422, "idempotency-key-reused")
    assert [r.id for r in records(backends, bucket)] == [first.json()["id"]]


def test_a_race_lost_to_another_body_leaves_nothing(
    backends: Backends, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest = Ingest(backends)
    first = ingest.accept(bucket, "k", "application/json", [JSON_BODY], idempotency_key="race")
    # The second request looked the key up before the first had remembered it.
    monkeypatch.setattr(backends.metadata, "lookup_idempotency_key", lambda scope, key: None)

    with pytest.raises(IdempotencyKeyReusedError):
        ingest.accept(bucket, "k", "application/json", [OTHER_BODY], idempotency_key="race")

    assert [r.id for r in records(backends, bucket)] == [first.id]
    assert staging_keys(backends) == [staging_key(first.id)]


def test_a_key_remembered_without_a_digest_compares_the_record(
    backends: Backends, bucket: str
) -> None:
    ingest = Ingest(backends)
    first = ingest.accept(bucket, "old", "application/json", [JSON_BODY])
    # As fingerprints were written before they held the body's digest.
    backends.metadata.remember_idempotency_key(
        bucket, "legacy", f"PUT {bucket}/old application/json", first.id
    )
    again = ingest.accept(bucket, "old", "application/json", [JSON_BODY], idempotency_key="legacy")
    assert again == first
    with pytest.raises(IdempotencyKeyReusedError):
        ingest.accept(
            bucket,
            "old",
            "application/json",
            [OTHER_BODY],
            declared_digest=Digest.of(OTHER_BODY),
            idempotency_key="legacy",
        )


@pytest.mark.parametrize("key", ["%FE%FF", "%FF%FE", "dir/%C3.json", "%ED%B2%80"])
async def test_a_key_that_is_not_utf8_is_400(
    client: httpx.AsyncClient, backends: Backends, bucket: str, key: str
) -> None:
    url = f"/v1/buckets/{bucket}/objects/{key}"
    put = await client.put(url, content=JSON_BODY, headers={"Content-Type": "application/json"})
    problem = assert_problem(put, 400, "invalid-name")
    assert "not UTF-8" in str(problem["detail"])
    assert put.headers["x-content-type-options"] == "nosniff"
    assert_problem(await client.delete(url), 400, "invalid-name")
    assert records(backends, bucket) == []
    assert staging_keys(backends) == []


async def test_u_fffd_sent_as_such_is_a_key_of_its_own(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    put = await client.put(
        f"/v1/buckets/{bucket}/objects/%EF%BF%BD%EF%BF%BD",
        content=JSON_BODY,
        headers={"Content-Type": "application/json"},
    )
    assert put.status_code == 202, put.text
    assert put.json()["key"] == "\ufffd\ufffd"


async def test_a_chunked_upload_key_is_checked_the_same_way(
    client: httpx.AsyncClient, bucket: str
) -> None:
    url = f"/v1/buckets/{bucket}/uploads"
    raw = b'{"key": "k\xfe\xff", "content_type": "application/json"}'
    refused = await client.post(url, content=raw, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400
    # A lone surrogate escaped in JSON is no UTF-8 text either.
    surrogate = await client.post(
        url,
        content=b'{"key": "k\\udcfe", "content_type": "application/json"}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(surrogate, 400, "invalid-name")


async def test_a_content_length_of_any_length_is_a_4xx(
    client: httpx.AsyncClient, backends: Backends, bucket: str
) -> None:
    url = f"/v1/buckets/{bucket}/objects/k.json"
    headers = {"Content-Type": "application/json", "Content-Length": HUGE}
    assert_problem(await client.put(url, content=JSON_BODY, headers=headers), 413, "too-large")
    # Leading zeros are still the number they pad.
    padded = {"Content-Type": "application/json", "Content-Length": "0" * 5000 + "2"}
    accepted = await client.put(url, content=b"{}", headers=padded)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["size"] == 2
    opened = await client.post(
        f"/v1/buckets/{bucket}/uploads", json={"key": "big", "content_type": "application/json"}
    )
    part_url = f"/v1/uploads/{opened.json()['id']}/parts/1"
    part = await client.put(part_url, content=b"x", headers={"Content-Length": HUGE})
    assert_problem(part, 413, "too-large")
    too_many = await client.put(f"/v1/uploads/x/parts/{HUGE}", content=b"x")
    assert_problem(too_many, 400, "invalid-request")
    assert [r.size for r in records(backends, bucket)] == [2]


async def test_every_answer_is_nosniff(client: httpx.AsyncClient, bucket: str) -> None:
    accepted = await client.put(
        f"/v1/buckets/{bucket}/objects/k.json",
        content=JSON_BODY,
        headers={"Content-Type": "application/json"},
    )
    refused = await client.put(f"/v1/buckets/{bucket}/objects/k.json", content=JSON_BODY)
    for response in (accepted, refused, await client.get("/healthz"), await client.get("/nope")):
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
