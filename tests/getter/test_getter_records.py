"""Records, listing and search through the real app and real embedded backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from sangraha_core import Backends, ObjectStatus, utcnow
from tests.getter._seed import BUCKET, PNG_BYTES, Seed

pytestmark = pytest.mark.anyio

LIST = f"/v1/buckets/{BUCKET}/objects"


async def _keys(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


# -- one record ----------------------------------------------------------------------------


async def test_metadata_of_a_pending_upload(client: httpx.AsyncClient, seed: Seed) -> None:
    ready = seed.ready("doc.json", b'{"a": 1}', metadata={"owner": "ann"})
    pending = seed.pending("doc.json", b'{"a": 2}')
    response = await client.get(f"/v1/buckets/{BUCKET}/metadata/doc.json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == pending.id
    assert body["status"] == "pending"
    assert response.headers["cache-control"] == "no-cache"
    older = await client.get(
        f"/v1/buckets/{BUCKET}/metadata/doc.json", params={"version": ready.id}
    )
    assert older.json()["status"] == "ready"
    assert older.json()["metadata"] == {"owner": "ann"}
    assert older.json()["digest"] == ready.digest


async def test_metadata_of_a_failed_upload_says_why(client: httpx.AsyncClient, seed: Seed) -> None:
    seed.failed("bad.json", "not JSON")
    body = (await client.get(f"/v1/buckets/{BUCKET}/metadata/bad.json")).json()
    assert (body["status"], body["error"]) == ("failed", "not JSON")


async def test_metadata_not_found(client: httpx.AsyncClient, seed: Seed) -> None:
    other = seed.ready("other.json")
    for url, params in (
        (f"/v1/buckets/{BUCKET}/metadata/none.json", {}),
        (f"/v1/buckets/{BUCKET}/metadata/none.json", {"version": other.id}),
        ("/v1/objects/" + "f" * 32, {}),
        ("/v1/objects/nonsense", {}),
    ):
        response = await client.get(url, params=params)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json"


async def test_record_by_id(client: httpx.AsyncClient, seed: Seed) -> None:
    record = seed.ready("dir/a b.json", metadata={"x": "1"})
    response = await client.get(f"/v1/objects/{record.id}")
    assert response.status_code == 200
    assert response.json() == record.model_dump(mode="json")


# -- listing -------------------------------------------------------------------------------


async def test_list_filters(client: httpx.AsyncClient, seed: Seed, backends: Backends) -> None:
    seed.ready("docs/a.json", metadata={"team": "red", "tier": "1"})
    seed.ready("docs/b.json", metadata={"team": "blue"})
    seed.ready("img/c.png", PNG_BYTES, "image/png", metadata={"team": "red"})
    seed.pending("docs/d.json", metadata={"team": "red"})
    seed.failed("docs/e.json", "broken")
    seed.ready("other.json", bucket="elsewhere")

    assert await _keys(client) == [
        "docs/a.json",
        "docs/b.json",
        "docs/d.json",
        "docs/e.json",
        "img/c.png",
    ]
    assert await _keys(client, prefix="docs/") == [
        "docs/a.json",
        "docs/b.json",
        "docs/d.json",
        "docs/e.json",
    ]
    assert await _keys(client, prefix="img") == ["img/c.png"]
    assert await _keys(client, kind="image") == ["img/c.png"]
    assert await _keys(client, status="pending") == ["docs/d.json"]
    assert await _keys(client, status="failed") == ["docs/e.json"]
    assert await _keys(client, **{"meta.team": "red"}) == [
        "docs/a.json",
        "docs/d.json",
        "img/c.png",
    ]
    assert await _keys(client, **{"meta.team": "red", "meta.tier": "1"}) == ["docs/a.json"]
    assert await _keys(client, **{"meta.TEAM": "red", "status": "ready", "kind": "json"}) == [
        "docs/a.json"
    ]
    assert await _keys(client, **{"meta.team": "green"}) == []

    later = utcnow() + timedelta(hours=1)
    earlier = utcnow() - timedelta(hours=1)
    assert await _keys(client, created_after=later.isoformat()) == []
    assert len(await _keys(client, created_after=earlier.isoformat())) == 5
    assert await _keys(client, created_before=earlier.isoformat()) == []
    assert len(await _keys(client, created_before=later.isoformat())) == 5

    page = (await client.get(LIST, params={"prefix": "docs/", "limit": 2})).json()
    assert [item["key"] for item in page["items"]] == ["docs/a.json", "docs/b.json"]
    assert page["next_cursor"]
    params = {"prefix": "docs/", "limit": 2, "cursor": page["next_cursor"]}
    rest = (await client.get(LIST, params=params)).json()
    assert [item["key"] for item in rest["items"]] == ["docs/d.json", "docs/e.json"]
    assert rest["next_cursor"] is None


async def test_list_latest_only_or_every_version(client: httpx.AsyncClient, seed: Seed) -> None:
    first = seed.ready("v.json", b'{"v": 1}')
    second = seed.ready("v.json", b'{"v": 2}')
    latest = (await client.get(LIST)).json()["items"]
    assert [item["id"] for item in latest] == [second.id]
    every = (await client.get(LIST, params={"versions": "true"})).json()["items"]
    assert [item["id"] for item in every] == [first.id, second.id]
    assert every[0]["status"] == ObjectStatus.READY


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "many"},
        {"kind": "video"},
        {"status": "lost"},
        {"created_after": "yesterday"},
        {"versions": "perhaps"},
        {"cursor": "!!not-a-cursor!!"},
        {"meta.bad name": "x"},
        {"meta.": "x"},
        {"prefix": "a\x00"},
    ],
)
async def test_list_bad_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(LIST, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_list_hostile_bucket_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/buckets/NOT_A_BUCKET/objects")
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-name")


async def test_cursor_pagination_is_stable_under_inserts(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    originals = [f"k/{n:04d}.json" for n in range(250)]
    for key in originals:
        seed.pending(key)
    seen: list[str] = []
    seen_ids: list[str] = []
    inserted_ahead: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 40}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(LIST, params=params)
        assert response.status_code == 200
        page = response.json()
        seen.extend(item["key"] for item in page["items"])
        seen_ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        pages += 1
        if cursor is None:
            break
        # Between pages: keys before the cursor (never shown now), beside it (a new
        # version of a key already listed) and after it (shown exactly once, later).
        seed.pending(f"a/{pages}.json")
        seed.pending(seen[-1])
        ahead = f"k/{pages * 40 + 20:04d}.json~new"
        seed.pending(ahead)
        inserted_ahead.append(ahead)
        assert pages < 20, "the listing never ends"
    assert len(seen_ids) == len(set(seen_ids)), "a record was listed twice"
    # Each original key once, in order; a key given a new version right at the cursor
    # shows again with that version, which is the one now latest.
    firsts = list(dict.fromkeys(key for key in seen if key in set(originals)))
    assert firsts == originals
    assert len(seen) - len(set(seen)) <= pages
    assert set(inserted_ahead) <= set(seen)
    assert not any(key.startswith("a/") for key in seen)
