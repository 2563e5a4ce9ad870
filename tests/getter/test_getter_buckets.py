"""The bucket routes of the read service: the buckets a key may list, with their totals,
and one bucket's policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sangraha_core import Backends, BucketKinds, Settings
from sangraha_core.access import OPERATOR, Action, Grant, KeyAdmin, MasterKey
from sangraha_getter import create_app
from tests.getter._seed import Seed

pytestmark = pytest.mark.anyio

TOKEN = "operator-token"


@pytest.fixture
def master_pair() -> tuple[MasterKey, str]:
    return MasterKey.generate()


@pytest.fixture
def master(master_pair: tuple[MasterKey, str]) -> MasterKey:
    return master_pair[0]


@pytest.fixture
async def locked(
    backends: Backends, tmp_path: Path, master_pair: tuple[MasterKey, str]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, api_key=TOKEN, auth="keys", master_key=master_pair[1])
    transport = httpx.ASGITransport(app=create_app(settings, backends=backends))
    async with httpx.AsyncClient(transport=transport, base_url="http://getter") as client:
        yield client


def _bearer(
    backends: Backends, master: MasterKey, *grants: tuple[str, set[Action]]
) -> dict[str, str]:
    made = KeyAdmin(backends.metadata, master).create(  # type: ignore[arg-type]
        OPERATOR, grants=[Grant(buckets=b, actions=frozenset(a)) for b, a in grants]
    )
    return {"Authorization": f"Bearer {made.bearer}"}


async def test_list_buckets_with_their_totals(
    backends: Backends, seed: Seed, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/v1/buckets")).json() == []
    backends.metadata.create_bucket("photos", BucketKinds.VALIDATED)
    backends.metadata.create_bucket("archive", BucketKinds.ANY)
    seed.ready("a.json", b"[1]", bucket="photos")
    seed.ready("a.json", b"[1, 2]", bucket="photos")
    seed.ready("b.json", b"{}", bucket="photos")
    answer = await client.get("/v1/buckets")
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert [b["name"] for b in listed] == ["archive", "photos"]
    assert {k: listed[1][k] for k in ("kinds", "objects", "bytes")} == {
        "kinds": "validated",
        "objects": 2,
        "bytes": 3 + 6 + 2,
    }
    assert {k: listed[0][k] for k in ("kinds", "objects", "bytes")} == {
        "kinds": "any",
        "objects": 0,
        "bytes": 0,
    }
    assert listed[0]["created_at"]


async def test_get_one_bucket(backends: Backends, client: httpx.AsyncClient) -> None:
    made = backends.metadata.create_bucket("photos", BucketKinds.ANY)
    answer = await client.get("/v1/buckets/photos")
    assert answer.status_code == 200, answer.text
    assert answer.json() == made.model_dump(mode="json")
    missing = await client.get("/v1/buckets/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/no-such-bucket")
    bad = await client.get("/v1/buckets/NO")
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/invalid-name")


async def test_a_key_sees_only_the_buckets_it_may_list(
    backends: Backends, master: MasterKey, locked: httpx.AsyncClient
) -> None:
    for name in ("team-a-docs", "team-a-pics", "team-b-docs"):
        backends.metadata.create_bucket(name, BucketKinds.VALIDATED)
    team_a = _bearer(backends, master, ("team-a-*", {Action.LIST}))
    reader = _bearer(backends, master, ("*", {Action.READ}))
    assert (await locked.get("/v1/buckets")).status_code == 401
    shown = await locked.get("/v1/buckets", headers=team_a)
    assert [b["name"] for b in shown.json()] == ["team-a-docs", "team-a-pics"]
    assert (await locked.get("/v1/buckets", headers=reader)).json() == []
    everything = await locked.get("/v1/buckets", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(everything.json()) == 3
    assert (await locked.get("/v1/buckets/team-a-docs", headers=team_a)).status_code == 200
    refused = await locked.get("/v1/buckets/team-b-docs", headers=team_a)
    assert refused.status_code == 403
    assert "'list'" in refused.json()["detail"]
