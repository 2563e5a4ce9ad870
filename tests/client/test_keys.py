"""Access keys through the SDK: the admin API's requests and answers, and presigned URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sangraha_client import (
    AccessKeyNotFoundError,
    Action,
    Client,
    Grant,
    KeyStatus,
    NewKeyView,
    PermissionDeniedError,
)
from sangraha_client._headers import quote_key
from sangraha_core.access import SignedRequest, parse_authorization, verify
from tests.client.clients import Clients
from tests.client.fake_keys import BEARER, KEY_ID, SECRET, AdminAPI

READ = "http://getter.test"
WRITE = "http://receiver.test:8002"


@pytest.fixture
def api() -> AdminAPI:
    return AdminAPI()


def test_create_key_posts_the_grants_to_the_write_service(clients: Clients, api: AdminAPI) -> None:
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE, api_key=BEARER)
    grant = Grant(buckets="docs", actions=frozenset({Action.WRITE}))
    new = client.create_key(
        ["photos-*:read,list", grant], name="uploader", expires_in=3600, rate_limit=5
    )
    (request,) = api.requests
    assert (request.method, str(request.url)) == ("POST", f"{WRITE}/v1/keys")
    assert request.headers["authorization"] == f"Bearer {BEARER}"
    body = json.loads(request.content)
    # A set travels as a list in no set order.
    grants = [(g["buckets"], sorted(g["actions"])) for g in body["grants"]]
    assert grants == [("photos-*", ["list", "read"]), ("docs", ["write"])]
    assert (body["name"], body["rate_limit"]) == ("uploader", 5)
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=5)
    assert isinstance(new, NewKeyView)
    assert (new.key_id, new.secret, new.bearer) == (KEY_ID, SECRET, BEARER)


def test_create_key_sends_only_what_was_given(clients: Clients, api: AdminAPI) -> None:
    client = clients(transport=api.transport())
    when = datetime(2030, 1, 1, tzinfo=UTC)
    client.create_key("docs:read", expires_at=when)
    body = json.loads(api.requests[0].content)
    assert body == {
        "name": "",
        "grants": [{"buckets": "docs", "actions": ["read"]}],
        "expires_at": "2030-01-01T00:00:00Z",
    }


def test_create_key_is_never_retried(clients: Clients, api: AdminAPI) -> None:
    api.status = 503
    client = clients(transport=api.transport())
    with pytest.raises(Exception, match="503"):
        client.create_key(["docs:read"])
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("grants", "options", "message"),
    [
        (["docs"], {}, "must look like"),
        (["docs:fly"], {}, "actions are"),
        ([], {}, "at least 1"),
        (
            ["docs:read"],
            {"expires_in": 60, "expires_at": datetime(2030, 1, 1, tzinfo=UTC)},
            "not both",
        ),
        (["docs:read"], {"expires_at": datetime(2030, 1, 1)}, "timezone-aware"),
        (["docs:read"], {"expires_in": timedelta(0)}, "more than 0"),
    ],
)
def test_create_key_refuses_what_cannot_be_a_key_before_sending(
    clients: Clients, api: AdminAPI, grants: list[str], options: dict[str, Any], message: str
) -> None:
    client = clients(transport=api.transport())
    with pytest.raises(ValueError, match=message):
        client.create_key(grants, **options)
    assert api.requests == []


def test_list_get_revoke_rotate(clients: Clients, api: AdminAPI) -> None:
    client = clients(transport=api.transport(), base_url=READ, write_url=WRITE)
    keys = client.list_keys()
    assert [k.key_id for k in keys] == [KEY_ID, "SKOTHERKEY234567ABCD"]
    assert keys[0].grants == [Grant.parse("photos-*:read,list")]
    assert "secret" not in type(keys[0]).model_fields
    assert client.get_key(KEY_ID).status is KeyStatus.ACTIVE
    revoked = client.revoke_key(KEY_ID)
    assert revoked.status is KeyStatus.REVOKED and revoked.revoked_at is not None
    assert client.rotate_key(KEY_ID).secret == SECRET
    sent = [(r.method, str(r.url)) for r in api.requests]
    assert sent == [
        ("GET", f"{WRITE}/v1/keys"),
        ("GET", f"{WRITE}/v1/keys/{KEY_ID}"),
        ("POST", f"{WRITE}/v1/keys/{KEY_ID}/revoke"),
        ("POST", f"{WRITE}/v1/keys/{KEY_ID}/rotate"),
    ]


def test_refusals_raise_their_classes(clients: Clients, api: AdminAPI) -> None:
    client = clients(transport=api.transport())
    api.status = 404
    with pytest.raises(AccessKeyNotFoundError):
        client.get_key("SKNOSUCHKEY")
    api.status = 403
    with pytest.raises(PermissionDeniedError):
        client.create_key(["*:admin"])


# -- presigned URLs ------------------------------------------------------------------------


def _client(api_key: str | None = BEARER) -> Client:
    return Client(base_url=READ, write_url=WRITE, api_key=api_key, transport=AdminAPI().transport())


def _signed_at(url: str) -> datetime:
    stamp = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _botocore(ours: str, method: str, url: str, expires: int, region: str = "us-east-1") -> str:
    """``url`` presigned by botocore, at the time ``ours`` was signed."""
    request = AWSRequest(method, url)
    with mock.patch("botocore.auth.get_current_datetime", return_value=_signed_at(ours)):
        S3SigV4QueryAuth(Credentials(KEY_ID, SECRET), "s3", region, expires=expires).add_auth(
            request
        )
    signed = request.url
    assert signed is not None
    return signed


def _verify(method: str, url: str, *, region: str = "us-east-1") -> None:
    parts = urlsplit(url)
    request = SignedRequest(method, parts.path, parts.query, [("host", parts.netloc)])
    credentials = parse_authorization(request)
    assert credentials is not None and credentials.presigned
    assert credentials.key_id == KEY_ID
    verify(request, credentials, SECRET, now=datetime.now(UTC), region=region)


KEYS = ["a.json", "dir/sub/file name.pdf", "ünïcødé/鍵", "a+b=c&d", "x/../y", "%2F literal"]


@pytest.mark.parametrize("key", KEYS)
def test_presign_get_is_botocores_query_signature(key: str) -> None:
    url = _client().presign_get("photos-1", key, expires=timedelta(minutes=5))
    unsigned = f"{READ}/v1/buckets/photos-1/objects/{quote_key(key)}"
    assert url.startswith(unsigned + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert url == _botocore(url, "GET", unsigned, 300)
    _verify("GET", url)


def test_presign_get_of_a_version_signs_the_version() -> None:
    url = _client().presign_get("docs", "a.json", version="0af3", expires=60)
    query = parse_qs(urlsplit(url).query)
    assert query["version"] == ["0af3"] and query["X-Amz-Expires"] == ["60"]
    assert url == _botocore(url, "GET", f"{READ}/v1/buckets/docs/objects/a.json?version=0af3", 60)
    _verify("GET", url)


def test_presign_put_goes_to_the_write_service_in_the_region_asked() -> None:
    url = _client().presign_put("docs", "up load.json", region="eu-west-2")
    unsigned = f"{WRITE}/v1/buckets/docs/objects/up%20load.json"
    assert url == _botocore(url, "PUT", unsigned, 3600, region="eu-west-2")
    assert "%2Feu-west-2%2Fs3%2Faws4_request" in url
    _verify("PUT", url, region="eu-west-2")


def test_presign_reads_the_region_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGRAHA_REGION", "ap-south-1")
    _verify("GET", _client().presign_get("docs", "a"), region="ap-south-1")


@pytest.mark.parametrize("api_key", [None, "an operator token", "SKNOTAKEY.short"])
def test_presign_needs_a_keys_bearer_token(api_key: str | None) -> None:
    with pytest.raises(ValueError, match="bearer token"):
        _client(api_key).presign_get("docs", "a")


@pytest.mark.parametrize("expires", [0, -1, 0.5, 1.5, 604801, timedelta(days=8), True])
def test_presign_refuses_a_lifetime_out_of_bounds(expires: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        _client().presign_put("docs", "a", expires=expires)


@pytest.mark.parametrize("expires", [1, 604800, timedelta(days=7), 90.0])
def test_presign_takes_one_second_to_seven_days(expires: Any) -> None:
    url = _client().presign_get("docs", "a", expires=expires)
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else expires
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == [str(int(seconds))]


def test_an_access_key_in_the_environment_comes_before_the_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANGRAHA_API_KEY", "an operator token")
    monkeypatch.setenv("SANGRAHA_KEY", BEARER)
    assert Client().api_key == BEARER
    monkeypatch.delenv("SANGRAHA_KEY")
    assert Client().api_key == "an operator token"


def test_the_async_client_presigns_alike() -> None:
    from sangraha_client import AsyncClient

    client = AsyncClient(base_url=READ, api_key=BEARER)
    url = client.presign_get("docs", "a.json", expires=10)
    assert url == _botocore(url, "GET", f"{READ}/v1/buckets/docs/objects/a.json", 10)


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SANGRAHA_KEY", "SANGRAHA_API_KEY", "SANGRAHA_REGION"):
        monkeypatch.delenv(name, raising=False)
    yield
