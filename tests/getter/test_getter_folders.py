"""Listing with ``delimiter``: keys rolled up into folders (``prefixes``), as the console
browses them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.getter._seed import BUCKET, Seed

pytestmark = pytest.mark.anyio

LIST = f"/v1/buckets/{BUCKET}/objects"


async def _page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(LIST, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _tree(seed: Seed) -> None:
    for key in ("a.json", "docs/b.json", "docs/c.json", "docs/sub/d.json", "img/e.json", "z.json"):
        seed.ready(key, b"{}")


async def test_a_delimiter_rolls_keys_up_into_prefixes(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    _tree(seed)
    top = await _page(client, delimiter="/")
    assert top["prefixes"] == ["docs/", "img/"]
    assert [item["key"] for item in top["items"]] == ["a.json", "z.json"]
    assert top["next_cursor"] is None
    docs = await _page(client, delimiter="/", prefix="docs/")
    assert docs["prefixes"] == ["docs/sub/"]
    assert [item["key"] for item in docs["items"]] == ["docs/b.json", "docs/c.json"]


async def test_a_flat_listing_has_no_prefixes(client: httpx.AsyncClient, seed: Seed) -> None:
    _tree(seed)
    flat = await _page(client)
    assert flat["prefixes"] == []
    assert len(flat["items"]) == 6
    # An empty delimiter is none.
    assert (await _page(client, delimiter=""))["prefixes"] == []


async def test_folder_pages_follow_their_cursor(client: httpx.AsyncClient, seed: Seed) -> None:
    _tree(seed)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"delimiter": "/", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = await _page(client, **params)
        entries = page["prefixes"] + [item["key"] for item in page["items"]]
        assert len(entries) == 1
        seen.extend(entries)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a.json", "docs/", "img/", "z.json"]


async def test_folders_list_each_keys_newest_version_whatever_its_status(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    seed.ready("f/ok.json", b"{}")
    seed.failed("f/bad.json", "not JSON")
    seed.ready("f/new.json", b"{}")
    newest = seed.pending("f/new.json", b'{"a": 1}')
    page = await _page(client, delimiter="/", prefix="f/")
    by_key = {item["key"]: item for item in page["items"]}
    assert sorted(by_key) == ["f/bad.json", "f/new.json", "f/ok.json"]
    assert by_key["f/bad.json"]["status"] == "failed"
    assert by_key["f/new.json"]["id"] == newest.id  # as the flat listing shows it


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "json"},
        {"status": "ready"},
        {"meta.owner": "ann"},
        {"versions": "true"},
        {"created_after": "2020-01-01T00:00:00Z"},
    ],
)
async def test_a_delimiter_takes_no_search_filter(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(LIST, params={"delimiter": "/", **params})
    assert response.status_code == 400
    assert "delimiter" in response.json()["detail"]


async def test_a_delimiter_is_short(client: httpx.AsyncClient) -> None:
    response = await client.get(LIST, params={"delimiter": "/" * 17})
    assert response.status_code in (400, 422)
