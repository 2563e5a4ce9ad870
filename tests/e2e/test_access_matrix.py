"""Access control end to end, on both topologies: every route against every kind of
credential, presigned URLs, and key changes seen by every process within 5 s.

The route list comes from the services' own OpenAPI documents, so a route added without a
row in ``RULES`` fails here rather than landing unguarded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sangraha_core.access import presign
from tests._topology import Service, Topology, distributed, embedded

pytestmark = pytest.mark.slow

BUCKET = "matrix-a"
OTHER = "matrix-b"
OPERATOR_TOKEN = "operator-token-for-the-access-tests"
ALL_ACTIONS = ["read", "list", "write", "delete", "admin"]


@dataclass(frozen=True)
class Rule:
    """What a route needs: an action, on the bucket of the path (or of the thing it names),
    or ``None`` for a route open to anyone."""

    action: str | None
    #: Answers that mean "refused" for a key without the grant: 403, and 404 for key routes,
    #: which hide keys the caller may not manage.
    refusals: frozenset[int] = frozenset({403})
    #: The grant must cover every bucket (content by digest).
    all_buckets: bool = False


_KEYS = frozenset({403, 404})

#: One row per (method, path template) the services describe.
RULES: dict[tuple[str, str], Rule] = {
    ("PUT", "/v1/buckets/{bucket}/objects/{key}"): Rule("write"),
    ("POST", "/v1/buckets/{bucket}/objects"): Rule("write"),
    ("DELETE", "/v1/buckets/{bucket}/objects/{key}"): Rule("delete"),
    ("POST", "/v1/buckets/{bucket}/uploads"): Rule("write"),
    ("PUT", "/v1/uploads/{upload_id}/parts/{number}"): Rule("write"),
    ("GET", "/v1/uploads/{upload_id}"): Rule("write"),
    ("POST", "/v1/uploads/{upload_id}/complete"): Rule("write"),
    ("DELETE", "/v1/uploads/{upload_id}"): Rule("write"),
    ("GET", "/v1/buckets/{bucket}/objects/{key}"): Rule("read"),
    ("HEAD", "/v1/buckets/{bucket}/objects/{key}"): Rule("read"),
    ("GET", "/v1/objects/{object_id}/content"): Rule("read"),
    ("HEAD", "/v1/objects/{object_id}/content"): Rule("read"),
    ("GET", "/v1/blobs/sha256:{hex_digest}"): Rule("read", all_buckets=True),
    ("HEAD", "/v1/blobs/sha256:{hex_digest}"): Rule("read", all_buckets=True),
    ("GET", "/v1/buckets/{bucket}/metadata/{key}"): Rule("read"),
    ("GET", "/v1/objects/{object_id}"): Rule("read"),
    ("GET", "/v1/buckets/{bucket}/objects"): Rule("list"),
    # A key sees only the buckets it may list: never a refusal (see the other-bucket test).
    ("GET", "/v1/buckets"): Rule("list"),
    ("GET", "/v1/buckets/{bucket}"): Rule("list"),
    ("PUT", "/v1/buckets/{bucket}"): Rule("admin"),
    ("DELETE", "/v1/buckets/{bucket}"): Rule("admin"),
    ("POST", "/v1/keys"): Rule("admin"),
    ("GET", "/v1/keys"): Rule("admin"),
    ("GET", "/v1/keys/{key_id}"): Rule("admin", _KEYS),
    ("POST", "/v1/keys/{key_id}/revoke"): Rule("admin", _KEYS),
    ("POST", "/v1/keys/{key_id}/rotate"): Rule("admin", _KEYS),
    ("GET", "/healthz"): Rule(None),
    ("GET", "/readyz"): Rule(None),
}


def routes(base_url: str) -> set[tuple[str, str]]:
    document = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "head", "put", "post", "delete", "patch"}
    }


def make_key(base: str, token: str, grants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/v1/keys",
        json={"grants": grants, **extra},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    key: dict[str, Any] = answer.json()
    return key


@dataclass
class World:
    topology: Topology
    admin: str
    reader: str
    other: str
    expired: str
    revoked: str
    wrong: str
    ids: dict[str, str]
    throwaway_key: str


def _start(kind: str, tmp: Path, request: pytest.FixtureRequest) -> Topology:
    settings = {"auth": "keys", "api_key": OPERATOR_TOKEN, "auth_failure_limit": "100000"}
    if kind == "embedded":
        return embedded(tmp, **settings)
    # A master key every service of the deployment shares.
    settings["master_key"] = "A" * 43 + "="
    return distributed(
        tmp,
        request.getfixturevalue("postgres_admin_url"),
        request.getfixturevalue("s3_endpoint"),
        concurrency=2,
        **settings,
    )


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "distributed":
        request.getfixturevalue("amqp_url")
    topology = _start(request.param, tmp_path_factory.mktemp(request.param), request)
    try:
        w = topology.write_url
        everything = [{"buckets": "*", "actions": ALL_ACTIONS}]
        admin = make_key(w, OPERATOR_TOKEN, everything)["bearer"]
        reader = make_key(w, admin, [{"buckets": BUCKET, "actions": ["read", "list"]}])["bearer"]
        other = make_key(w, admin, [{"buckets": OTHER, "actions": ALL_ACTIONS}])["bearer"]
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        expired = make_key(w, admin, everything, expires_at=soon)["bearer"]
        revoked_key = make_key(w, admin, everything)
        httpx.post(
            f"{w}/v1/keys/{revoked_key['key_id']}/revoke",
            headers={"Authorization": f"Bearer {admin}"},
        ).raise_for_status()
        throwaway = make_key(w, admin, [{"buckets": BUCKET, "actions": ["read"]}])["key_id"]
        auth = {"Authorization": f"Bearer {admin}"}
        put = httpx.put(
            f"{w}/v1/buckets/{BUCKET}/objects/seed.json?wait=20",
            content=b'{"seed": true}',
            headers={**auth, "Content-Type": "application/json"},
            timeout=30,
        )
        assert put.status_code in (200, 201, 202), put.text
        record = put.json()
        session = httpx.post(
            f"{w}/v1/buckets/{BUCKET}/uploads",
            json={"key": "session.json", "content_type": "application/json"},
            headers=auth,
        ).json()
        key_id = admin.split(".")[0]
        wrong = f"{key_id}.{'x' * 40}"
        time.sleep(max(0.0, 2.5))  # the expiring key has expired
        ids = {
            "bucket": BUCKET,
            "key": "seed.json",
            "object_id": record["id"],
            "upload_id": session["id"],
            "number": "1",
            "hex_digest": record["digest"].removeprefix("sha256:"),
            "key_id": throwaway,
        }
        yield World(
            topology, admin, reader, other, expired, revoked_key["bearer"], wrong, ids, throwaway
        )
    finally:
        topology.stop()


def _url(world: World, method: str, template: str) -> str:
    path = template
    for name, value in world.ids.items():
        path = path.replace("{" + name + "}", value)
    base = world.topology.read_url if method in ("GET", "HEAD") else world.topology.write_url
    if template.startswith(("/v1/keys", "/v1/uploads")) or (
        method == "GET" and template.startswith("/v1/uploads")
    ):
        base = world.topology.write_url
    return base + path


def _send(world: World, method: str, template: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body: bytes | None = None
    if method in ("PUT", "POST"):
        headers["Content-Type"] = "application/json"
        body = b"{}"
    return httpx.request(
        method, _url(world, method, template), headers=headers, content=body, timeout=30
    )


def test_every_route_has_a_rule(world: World) -> None:
    described = routes(world.topology.write_url) | routes(world.topology.read_url)
    missing = described - set(RULES)
    assert not missing, f"routes without an access rule: {sorted(missing)}"


ORDER = sorted(RULES, key=lambda r: (r[0] == "DELETE", "revoke" in r[1], r))


@pytest.mark.parametrize("credential", ["none", "wrong", "expired", "revoked"])
def test_bad_credentials_get_401_on_every_guarded_route(world: World, credential: str) -> None:
    token = {
        "none": None,
        "wrong": world.wrong,
        "expired": world.expired,
        "revoked": world.revoked,
    }[credential]
    described = routes(world.topology.write_url) | routes(world.topology.read_url)
    for method, template in ORDER:
        if (method, template) not in described:
            continue
        answer = _send(world, method, template, token)
        if RULES[(method, template)].action is None:
            assert answer.status_code == 200, (method, template)
            continue
        assert answer.status_code == 401, (method, template, answer.text)
        if method != "HEAD":
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["type"].endswith("/unauthorized")


def test_a_read_only_key_cannot_write_or_delete_anywhere(world: World) -> None:
    described = routes(world.topology.write_url) | routes(world.topology.read_url)
    for method, template in ORDER:
        rule = RULES[(method, template)]
        if (method, template) not in described or rule.action is None:
            continue
        answer = _send(world, method, template, world.reader)
        if rule.action in ("read", "list") and not rule.all_buckets:
            assert answer.status_code not in (401, 403), (method, template, answer.text)
        else:
            assert answer.status_code in rule.refusals, (method, template, answer.text)
            if answer.status_code == 403 and method != "HEAD":
                detail = answer.json()["detail"]
                assert f"'{rule.action}'" in detail, detail


def test_a_key_for_another_bucket_is_refused(world: World) -> None:
    described = routes(world.topology.write_url) | routes(world.topology.read_url)
    for method, template in ORDER:
        rule = RULES[(method, template)]
        if (method, template) not in described or rule.action is None:
            continue
        answer = _send(world, method, template, world.other)
        if rule.action == "admin" and method == "POST" and template == "/v1/keys":
            assert answer.status_code == 400, answer.text  # {} is no key: past the checks
            continue
        if rule.action == "admin" and template == "/v1/keys":
            assert answer.status_code == 200  # its own bucket's keys: none of BUCKET's
            assert all(k["grants"][0]["buckets"] == OTHER for k in answer.json())
            continue
        if template == "/v1/buckets":
            assert answer.status_code == 200  # the buckets it may list: not BUCKET
            assert all(b["name"] != BUCKET for b in answer.json())
            continue
        assert answer.status_code in rule.refusals, (method, template, answer.text)


def test_an_admin_key_passes_every_check(world: World) -> None:
    described = routes(world.topology.write_url) | routes(world.topology.read_url)
    for method, template in ORDER:
        if (method, template) not in described:
            continue
        answer = _send(world, method, template, world.admin)
        assert answer.status_code not in (401, 403), (method, template, answer.text)


# -- presigned URLs ------------------------------------------------------------------------


def _presigned(world: World, method: str, key: str, expires: int = 60) -> str:
    key_id, secret = world.admin.split(".", 1)
    base = world.topology.read_url if method == "GET" else world.topology.write_url
    return presign(
        method,
        f"{base}/v1/buckets/{BUCKET}/objects/{key}",
        key_id=key_id,
        secret=secret,
        region="us-east-1",
        expires=expires,
        now=datetime.now(UTC),
    )


def _put(world: World, key: str) -> None:
    answer = httpx.put(
        f"{world.topology.write_url}/v1/buckets/{BUCKET}/objects/{key}?wait=20",
        content=b'{"seed": true}',
        headers={"Authorization": f"Bearer {world.admin}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code in (200, 201), answer.text


def test_a_presigned_url_works_until_it_expires_and_fails_when_altered(world: World) -> None:
    _put(world, "shared.json")
    url = _presigned(world, "GET", "shared.json", expires=3)
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.json() == {"seed": True}
    for altered in (
        url.replace("shared.json", "shared.jsoN"),  # another object
        url.replace("X-Amz-Expires=3", "X-Amz-Expires=30"),
        url[:-1] + ("0" if url[-1] != "0" else "1"),  # the signature
    ):
        refused = httpx.get(altered)
        assert refused.status_code == 401, (altered, refused.text)
    assert httpx.head(url).status_code == 401  # another method
    time.sleep(3.5)
    expired = httpx.get(url)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_a_presigned_put_uploads_one_object(world: World) -> None:
    url = _presigned(world, "PUT", "presigned.json")
    answer = httpx.put(
        url, content=b'{"via": "presigned"}', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 202, answer.text
    elsewhere = url.replace("presigned.json", "elsewhere.json")
    assert (
        httpx.put(
            elsewhere, content=b"{}", headers={"Content-Type": "application/json"}
        ).status_code
        == 401
    )


# -- changes reach every process -----------------------------------------------------------


def _until(predicate: Any, since: float, timeout: float = 5.0) -> None:
    """``predicate`` holds within ``timeout`` seconds of ``since`` (a monotonic time)."""
    while time.monotonic() - since < timeout:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def test_revocation_and_rotation_reach_two_getters_within_5_s(
    request: pytest.FixtureRequest, tmp_path: Path, world: World
) -> None:
    if world.topology.name != "distributed":
        pytest.skip("one process serves every route in the embedded topology")
    getter = world.topology.services[1]
    second = Service(
        "getter-2",
        [getter.argv[0], "--port", str(_free_port())],
        getter.env,
        tmp_path / "getter-2.log",
    )
    second.health_url = f"http://127.0.0.1:{second.argv[-1]}/healthz"
    second.start()
    try:
        urls = [world.topology.read_url, f"http://127.0.0.1:{second.argv[-1]}"]
        w = world.topology.write_url
        key = make_key(w, world.admin, [{"buckets": BUCKET, "actions": ["read"]}])
        old = key["bearer"]

        def status(base: str, token: str) -> int:
            return httpx.get(
                f"{base}/v1/buckets/{BUCKET}/objects/seed.json",
                headers={"Authorization": f"Bearer {token}"},
            ).status_code

        _put(world, "seed.json")
        made = time.monotonic()
        for base in urls:
            _until(lambda base=base: status(base, old) == 200, made)
        changed = time.monotonic()
        rotated = httpx.post(
            f"{w}/v1/keys/{key['key_id']}/rotate",
            headers={"Authorization": f"Bearer {world.admin}"},
        ).json()["bearer"]
        for base in urls:
            _until(
                lambda base=base: status(base, old) == 401 and status(base, rotated) == 200,
                changed,
            )
        changed = time.monotonic()
        httpx.post(
            f"{w}/v1/keys/{key['key_id']}/revoke",
            headers={"Authorization": f"Bearer {world.admin}"},
        ).raise_for_status()
        for base in urls:
            _until(lambda base=base: status(base, rotated) == 401, changed)
    finally:
        second.stop()


def _free_port() -> int:
    from tests._services import free_port

    return free_port()
