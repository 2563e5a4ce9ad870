"""The bucket routes of the write service: make a bucket or change its policy, delete it,
who may, and what uploads then make of the policy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sangraha_core import Backends, BucketKinds, BucketNotFoundError, ObjectKind
from sangraha_core.access import MasterKey
from sangraha_receiver import create_app
from tests.receiver._support import JSON_BODY, BackendsFactory, assert_problem

pytestmark = pytest.mark.anyio

OPERATOR = "an operator token"
AS_OPERATOR = {"Authorization": f"Bearer {OPERATOR}"}


@pytest.fixture
def guarded(make_embedded: BackendsFactory) -> Backends:
    backends: Backends = make_embedded(
        auth="keys", api_key=OPERATOR, master_key=MasterKey.generate()[1]
    )
    return backends


@pytest.fixture
async def client(guarded: Backends) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(backends=guarded))
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
        yield c


async def _key(c: httpx.AsyncClient, *grants: str) -> dict[str, str]:
    body = [{"buckets": g.split(":")[0], "actions": g.split(":")[1].split(",")} for g in grants]
    answer = await c.post("/v1/keys", json={"grants": body}, headers=AS_OPERATOR)
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['bearer']}"}


async def test_put_makes_a_bucket_then_changes_its_policy(
    client: httpx.AsyncClient, guarded: Backends
) -> None:
    made = await client.put("/v1/buckets/photos", json={"kinds": "any"}, headers=AS_OPERATOR)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/v1/buckets/photos"
    assert made.json()["name"] == "photos" and made.json()["kinds"] == "any"
    assert guarded.metadata.get_bucket("photos").kinds is BucketKinds.ANY

    kept = await client.put("/v1/buckets/photos", headers=AS_OPERATOR)
    assert kept.status_code == 200 and kept.json()["kinds"] == "any"
    changed = await client.put(
        "/v1/buckets/photos", json={"kinds": "validated"}, headers=AS_OPERATOR
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["kinds"] == "validated"
    assert changed.json()["created_at"] == made.json()["created_at"]
    assert guarded.metadata.get_bucket("photos").kinds is BucketKinds.VALIDATED


async def test_put_without_a_policy_takes_the_default(
    make_embedded: BackendsFactory,
) -> None:
    backends = make_embedded(bucket_kinds="any")
    transport = httpx.ASGITransport(app=create_app(backends=backends))
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
        made = await c.put("/v1/buckets/defaulted", json={})
        assert made.status_code == 201 and made.json()["kinds"] == "any"


async def test_conditional_puts(client: httpx.AsyncClient) -> None:
    only_change = {**AS_OPERATOR, "If-Match": "*"}
    missing = await client.put("/v1/buckets/docs", json={"kinds": "any"}, headers=only_change)
    assert_problem(missing, 404, "no-such-bucket")
    only_create = {**AS_OPERATOR, "If-None-Match": "*"}
    assert (await client.put("/v1/buckets/docs", headers=only_create)).status_code == 201
    again = await client.put("/v1/buckets/docs", json={"kinds": "any"}, headers=only_create)
    assert_problem(again, 409, "bucket-exists")
    changed = await client.put("/v1/buckets/docs", json={"kinds": "any"}, headers=only_change)
    assert changed.status_code == 200 and changed.json()["kinds"] == "any"
    odd = await client.put("/v1/buckets/docs", headers={**AS_OPERATOR, "If-Match": '"x"'})
    assert_problem(odd, 400, "invalid-request")


async def test_bad_names_and_policies_are_refused(client: httpx.AsyncClient) -> None:
    assert_problem(await client.put("/v1/buckets/AB", headers=AS_OPERATOR), 400, "invalid-name")
    wrong = await client.put("/v1/buckets/fine", json={"kinds": "everything"}, headers=AS_OPERATOR)
    assert_problem(wrong, 400, "invalid-request")
    extra = await client.put("/v1/buckets/fine", json={"colour": "red"}, headers=AS_OPERATOR)
    assert_problem(extra, 400, "invalid-request")
    gone = await client.delete("/v1/buckets/AB", headers=AS_OPERATOR)
    assert_problem(gone, 400, "invalid-name")


async def test_delete_only_an_empty_bucket(client: httpx.AsyncClient, guarded: Backends) -> None:
    assert_problem(
        await client.delete("/v1/buckets/docs", headers=AS_OPERATOR), 404, "no-such-bucket"
    )
    stored = await client.put(
        "/v1/buckets/docs/objects/a.json",
        content=JSON_BODY,
        headers={**AS_OPERATOR, "Content-Type": "application/json"},
    )
    assert stored.status_code == 202, stored.text  # the upload made the bucket
    full = await client.delete("/v1/buckets/docs", headers=AS_OPERATOR)
    assert_problem(full, 409, "bucket-not-empty")
    await client.delete("/v1/buckets/docs/objects/a.json", headers=AS_OPERATOR)
    assert (await client.delete("/v1/buckets/docs", headers=AS_OPERATOR)).status_code == 204
    with pytest.raises(BucketNotFoundError):
        guarded.metadata.get_bucket("docs")


async def test_managing_a_bucket_needs_admin_on_it(client: httpx.AsyncClient) -> None:
    writer = await _key(client, "team-a:read,list,write,delete")
    admin = await _key(client, "team-a:admin")
    for answer in (
        await client.put("/v1/buckets/team-a", json={"kinds": "any"}, headers=writer),
        await client.delete("/v1/buckets/team-a", headers=writer),
        await client.put("/v1/buckets/team-b", json={"kinds": "any"}, headers=admin),
    ):
        body = assert_problem(answer, 403, "access-denied")
        assert "'admin'" in str(body["detail"])
    assert (await client.put("/v1/buckets/team-a", json={}, headers=admin)).status_code == 201
    assert (await client.delete("/v1/buckets/team-a", headers=admin)).status_code == 204


async def test_the_policy_decides_what_an_upload_may_be(
    client: httpx.AsyncClient, guarded: Backends
) -> None:
    await client.put("/v1/buckets/strict", json={"kinds": "validated"}, headers=AS_OPERATOR)
    await client.put("/v1/buckets/loose", json={"kinds": "any"}, headers=AS_OPERATOR)
    text = {**AS_OPERATOR, "Content-Type": "text/plain"}
    refused = await client.put("/v1/buckets/strict/objects/a.txt", content=b"hi", headers=text)
    assert_problem(refused, 415, "unsupported-content-type")
    taken = await client.put("/v1/buckets/loose/objects/a.txt", content=b"hi", headers=text)
    assert taken.status_code == 202, taken.text
    assert taken.json()["kind"] == "opaque" and taken.json()["content_type"] == "text/plain"
    untyped = await client.put("/v1/buckets/loose/objects/raw", content=b"?", headers=AS_OPERATOR)
    assert untyped.status_code == 202, untyped.text
    assert untyped.json()["content_type"] == "application/octet-stream"
    refused = await client.put("/v1/buckets/strict/objects/raw", content=b"?", headers=AS_OPERATOR)
    body = assert_problem(refused, 415, "unsupported-content-type")
    assert "Content-Type is required" in str(body["detail"])
    # A policy changed here is seen by this process's next upload at once.
    await client.put("/v1/buckets/strict", json={"kinds": "any"}, headers=AS_OPERATOR)
    now_taken = await client.put("/v1/buckets/strict/objects/a.txt", content=b"hi", headers=text)
    assert now_taken.status_code == 202, now_taken.text
    session = await client.post(
        "/v1/buckets/loose/uploads",
        json={"key": "movie.mp4", "content_type": "video/mp4"},
        headers=AS_OPERATOR,
    )
    assert session.status_code == 201, session.text
    assert guarded.metadata.get_upload(session.json()["id"]).kind is ObjectKind.OPAQUE
