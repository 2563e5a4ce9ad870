"""Access control in process: the admin API's rules, abuse limits, and what reaches the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from sangraha_core import ConfigurationError
from sangraha_core.access import MasterKey, bearer_token, new_key_id, new_secret
from sangraha_receiver import create_app

from ._support import JSON_BODY, BackendsFactory, assert_problem

JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.anyio

OPERATOR = "an operator token"


def _app(make_embedded: BackendsFactory, **settings: object) -> httpx.AsyncClient:
    backends = make_embedded(
        auth="keys", api_key=OPERATOR, master_key=MasterKey.generate()[1], **settings
    )
    app = create_app(backends=backends)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r")


@pytest.fixture
async def client(make_embedded: BackendsFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with _app(make_embedded, auth_failure_limit=3) as c:
        yield c


async def _key(c: httpx.AsyncClient, token: str, *grants: str, **extra: object) -> str:
    body = [{"buckets": g.split(":")[0], "actions": g.split(":")[1].split(",")} for g in grants]
    answer = await c.post(
        "/v1/keys",
        json={"grants": body, **extra},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    bearer: str = answer.json()["bearer"]
    return bearer


async def test_a_key_cannot_make_a_key_stronger_than_itself(client: httpx.AsyncClient) -> None:
    team = await _key(client, OPERATOR, "team-*:read,write,admin")
    await _key(client, team, "team-a:read")
    refused = await client.post(
        "/v1/keys",
        json={"grants": [{"buckets": "team-a", "actions": ["delete"]}]},
        headers={"Authorization": f"Bearer {team}"},
    )
    body = assert_problem(refused, 403, "access-denied")
    assert "may not make a key" in str(body["detail"])
    listed = await client.get("/v1/keys", headers={"Authorization": f"Bearer {team}"})
    assert len(listed.json()) == 2 and all("secret" not in k for k in listed.json())


async def test_a_key_over_its_rate_gets_429_with_retry_after(client: httpx.AsyncClient) -> None:
    slow = await _key(client, OPERATOR, "docs:write", rate_limit=1)
    statuses = []
    for _ in range(8):
        answer = await client.put(
            "/v1/buckets/docs/objects/a.json",
            content=JSON_BODY,
            headers={**JSON, "Authorization": f"Bearer {slow}"},
        )
        statuses.append(answer.status_code)
    assert statuses[:5] == [202] * 5  # the burst
    assert 429 in statuses
    limited = answer
    assert_problem(limited, 429, "rate-limited")
    assert int(limited.headers["retry-after"]) >= 1


async def test_an_address_that_keeps_failing_is_held_off(client: httpx.AsyncClient) -> None:
    good = await _key(client, OPERATOR, "docs:read")
    wrong = bearer_token(good.split(".")[0], new_secret())
    for _ in range(3):
        assert (
            await client.get("/v1/keys", headers={"Authorization": f"Bearer {wrong}"})
        ).status_code == 401
    held = await client.get("/v1/keys", headers={"Authorization": f"Bearer {good}"})
    assert_problem(held, 429, "rate-limited")
    assert "failed sign-ins" in held.json()["detail"]


async def test_no_secret_reaches_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await client.post(
        "/v1/keys",
        json={"grants": [{"buckets": "docs", "actions": ["read"]}]},
        headers={"Authorization": f"Bearer {OPERATOR}"},
    )
    secret = made.json()["secret"]
    wrong = bearer_token(made.json()["key_id"], new_secret())
    await client.get("/v1/keys", headers={"Authorization": f"Bearer {wrong}"})
    await client.get("/v1/keys", headers={"Authorization": f"Bearer {made.json()['bearer']}"})
    logged = caplog.text
    assert secret not in logged and wrong.split(".")[1] not in logged and OPERATOR not in logged
    assert "refused credentials" in logged


async def test_a_server_refuses_a_key_bearer_as_its_operator_token(
    make_embedded: BackendsFactory,
) -> None:
    backends = make_embedded(
        auth="keys",
        api_key=bearer_token(new_key_id(), new_secret()),
        master_key=MasterKey.generate()[1],
    )
    app = create_app(backends=backends)
    with pytest.raises(ConfigurationError, match="operator token"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r"
        ) as c:
            await c.get("/healthz")


async def test_a_service_without_its_master_key_says_what_to_set(
    make_embedded: BackendsFactory,
) -> None:
    from sangraha_core import MasterKeyError

    app = create_app(backends=make_embedded(auth="keys"))
    with pytest.raises(MasterKeyError, match="SANGRAHA_MASTER_KEY"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://r"
        ) as c:
            await c.get("/healthz")


async def test_a_websocket_is_closed_before_it_reaches_any_route(
    make_embedded: BackendsFactory,
) -> None:
    backends = make_embedded(auth="keys", master_key=MasterKey.generate()[1])
    app = create_app(backends=backends)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/v1/buckets/docs/objects",
        "raw_path": b"/v1/buckets/docs/objects",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("r", 80),
        "scheme": "ws",
        "root_path": "",
        "subprotocols": [],
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_an_expiry_without_a_time_zone_is_a_400_not_a_fault(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        "/v1/keys",
        json={
            "grants": [{"buckets": "docs", "actions": ["read"]}],
            "expires_at": "2030-01-01T00:00:00",
        },
        headers={"Authorization": f"Bearer {OPERATOR}"},
    )
    body = assert_problem(answer, 400, "invalid-request")
    assert "timezone" in str(body["detail"]) or "time zone" in str(body["detail"])
