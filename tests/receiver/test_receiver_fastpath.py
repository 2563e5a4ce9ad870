"""The write fast path answers exactly as the upload route does.

Two receiver apps over backends of their own, one with :class:`WriteFastPath` and one with
it taken out, get the same requests in the same order, so their stores go through the same
states. Status, every header but ``date``, ``x-request-id`` and ``content-length``, and the
body must be the same, but for what differs between any two uploads: the record's id and
times (and the ``Location`` naming the id, checked to name it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import anyio
import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from sangraha_core import Backends, Settings
from sangraha_core.access import MasterKey
from sangraha_receiver import create_app
from sangraha_receiver.fastpath import WriteFastPath
from sangraha_receiver.objects import WHOLE_BODY_LIMIT
from sangraha_server._app import create_app as create_server
from tests.receiver._support import content_digest, records

OPERATOR = "operator-token-of-the-fast-path-tests"
VALIDATED = "docs"
ANY = "anything"
#: Larger than the fast path takes, smaller than the server's limit: the route streams it.
MAX_OBJECT_SIZE = 2 * WHOLE_BODY_LIMIT
GOOD = b'{"hello": "world", "n": [1, 2, 3]}'
#: Keys that are valid but hard to carry, and keys the core refuses.
KEYS = [
    "plain.json",
    'we"ird %20 ;name.json',
    "dir/ünïcödé 文件.json",
    "semi;colon,comma=eq&amp.json",
    "",
    "back\\slash",
    "new\nline",
    "a//b",
    "x" * 2000,
]
#: Who asks: each app's own key for a role, the operator, a wrong token or nobody.
ROLES = ["writer", "reader", "elsewhere", "operator", "wrong", "nobody"]
#: Fields that differ between two uploads of the same bytes.
_VARYING = ("id", "created_at", "updated_at")
_UNCOMPARED = frozenset({"date", "x-request-id", "content-length", "location"})


class _Client:
    """A blocking client of an app whose backends are open already (so no lifespan): each
    request runs on an event loop of its own, so hypothesis can drive it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
                return await client.request(method, path, **options)

        return anyio.run(send)

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def put(self, path: str, **options: Any) -> httpx.Response:
        return self.request("PUT", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)


@dataclass
class Side:
    """One app, a client of it, and the bearer tokens of its keys."""

    client: _Client
    backends: Backends
    bearers: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        if role == "nobody":
            return {}
        if role == "operator":
            return {"Authorization": f"Bearer {OPERATOR}"}
        if role == "wrong":
            return {"Authorization": "Bearer sgk_wrong"}
        return {"Authorization": f"Bearer {self.bearers[role]}"}


@dataclass
class Pair:
    fast: Side
    routed: Side
    taken: list[str] = field(default_factory=list)


def _backends(folder: Path) -> Backends:
    return Backends.from_settings(
        Settings(
            data_dir=folder,
            auth="keys",
            api_key=OPERATOR,
            master_key=MasterKey.generate()[1],
            auth_failure_limit=1_000_000,
            max_object_size=MAX_OBJECT_SIZE,
        )
    )


def _without_fast_path(app: FastAPI) -> FastAPI:
    app.user_middleware = [
        m for m in app.user_middleware if cast(object, m.cls) is not WriteFastPath
    ]
    return app


def _side(app: FastAPI) -> Side:
    side = Side(_Client(app), app.state.backends)
    operator = side.auth("operator")
    grants = {
        "writer": [{"buckets": "*", "actions": ["read", "list", "write", "delete"]}],
        "reader": [{"buckets": "*", "actions": ["read", "list"]}],
        "elsewhere": [{"buckets": "other", "actions": ["write"]}],
    }
    for role, granted in grants.items():
        made = side.client.post("/v1/keys", json={"grants": granted}, headers=operator)
        assert made.status_code == 201, made.text
        side.bearers[role] = made.json()["bearer"]
    for bucket, kinds in ((VALIDATED, "validated"), (ANY, "any")):
        made = side.client.put(f"/v1/buckets/{bucket}", json={"kinds": kinds}, headers=operator)
        assert made.status_code in (200, 201), made.text
    return side


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    fast_backends = _backends(tmp_path_factory.mktemp("fast"))
    routed_backends = _backends(tmp_path_factory.mktemp("routed"))
    taken: list[str] = []
    original = WriteFastPath._accept

    async def counted(path: WriteFastPath, scope: Scope, *args: Any) -> None:
        taken.append(scope["path"])
        await original(path, scope, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WriteFastPath, "_accept", counted)
        try:
            fast = _side(create_app(backends=fast_backends))
            routed = _side(_without_fast_path(create_app(backends=routed_backends)))
            yield Pair(fast, routed, taken)
        finally:
            fast_backends.close()
            routed_backends.close()


def _normal(
    status: int, headers: list[tuple[str, str]], content: bytes, side: Side | None = None
) -> dict[str, Any]:
    """What must be equal on both paths; the record's id and times and the side's own key
    ids blanked."""
    for role, bearer in (side.bearers if side else {}).items():
        content = content.replace(bearer.split(".")[0].encode(), role.encode())
    body: Any = content
    location = dict(headers).get("location")
    with contextlib.suppress(ValueError):
        body = json.loads(content)
    if isinstance(body, dict) and "id" in body:
        assert location == f"/v1/objects/{body['id']}"
        body = {**body, **dict.fromkeys(_VARYING, "*")}
    else:
        assert location is None
    kept = sorted((name, value) for name, value in headers if name not in _UNCOMPARED)
    return {"status": status, "headers": kept, "body": body}


def _send(
    side: Side, path: str, role: str, headers: list[tuple[str, str]], body: Any
) -> dict[str, Any]:
    # Values as UTF-8 bytes, as a client sends non-ASCII metadata.
    sent = [(name, value.encode()) for name, value in [*side.auth(role).items(), *headers]]
    answer = side.client.put(path, headers=sent, content=body)
    return _normal(answer.status_code, list(answer.headers.multi_items()), answer.content, side)


def _both(
    pair: Pair,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    body: Any = GOOD,
    *,
    role: str = "writer",
) -> dict[str, Any]:
    headers = headers or []
    # A body from a generator is made anew for each side (it can be read once).
    fast_body, routed_body = (body(), body()) if callable(body) else (body, body)
    fast = _send(pair.fast, path, role, headers, fast_body)
    routed = _send(pair.routed, path, role, headers, routed_body)
    assert fast == routed, (path, headers, role)
    return fast


def _url(key: str, bucket: str = VALIDATED) -> str:
    return f"/v1/buckets/{bucket}/objects/{quote(key, safe='/')}"


JSON = [("Content-Type", "application/json")]


async def _chunked() -> AsyncIterator[bytes]:
    """A body without a Content-Length (sent chunked)."""
    yield b'{"a":'
    yield b" 1}"


def test_good_uploads_are_taken_and_answered_alike(pair: Pair) -> None:
    pair.taken.clear()
    for key in KEYS[:4]:
        answer = _both(pair, _url(key), JSON, b'{"k": %s}' % json.dumps(key).encode())
        assert answer["status"] == 202
        assert answer["body"]["key"] == key and answer["body"]["status"] == "pending"
    meta = [("X-Sangraha-Meta-Title", "Ünïcode · title"), ("X-Sangraha-Meta-Enc", "UTF-8''x%C3%A9")]
    assert _both(pair, _url("meta.json"), JSON + meta)["body"]["metadata"] == {
        "title": "Ünïcode · title",
        "enc": "xé",
    }
    assert _both(pair, _url("empty", ANY), [], b"")["status"] == 202
    assert _both(pair, _url("pixel", ANY), [("Content-Type", "image/png")])["status"] == 202
    assert _both(pair, _url("full.json"), JSON, b"[" + b"1," * 100_000 + b"1]")["status"] == 202
    assert _both(pair, _url("op.json"), JSON, role="operator")["status"] == 202
    # Each upload above reached the fast path, once (the app without it never counts).
    assert len(pair.taken) == 9


def test_refusals_after_the_body_are_the_routes(pair: Pair) -> None:
    """Errors the core finds once it has the body: the fast path answers them itself."""
    pair.taken.clear()
    for key in KEYS[4:]:
        assert _both(pair, _url(key), JSON)["status"] in (400, 404)
    wrong = content_digest(b"other bytes")
    right = content_digest(GOOD)
    sha_wrong = hashlib.sha256(b"other").hexdigest()
    cases: list[tuple[list[tuple[str, str]], int]] = [
        ([("Content-Digest", wrong)], 400),
        ([("X-Sangraha-SHA256", sha_wrong)], 400),
        ([("Content-Digest", right)], 202),
        ([("X-Sangraha-SHA256", hashlib.sha256(GOOD).hexdigest())], 202),
        ([("X-Sangraha-Meta-" + "n" * 300, "v")], 400),
        ([("X-Sangraha-Meta-Big", "v" * 10_000)], 400),
        ([("X-Sangraha-Meta-Bad Name", "v")], 400),
    ]
    for headers, status in cases:
        assert _both(pair, _url("checked.json"), JSON + headers)["status"] == status, headers
    # No Content-Type, or one naming no kind, or a kind the body is not.
    assert _both(pair, _url("untyped.json"), [])["status"] == 415
    assert _both(pair, _url("typed.json"), [("Content-Type", "text/plain")])["status"] == 415
    assert _both(pair, _url("typed.json"), [("Content-Type", "no/such")])["status"] == 415
    assert _both(pair, _url("typed", ANY), [("Content-Type", "no/such")])["status"] == 202
    # A bucket that does not exist, or one the key cannot write.
    assert _both(pair, _url("k.json", "never-made"), JSON)["status"] in (202, 404)
    assert len(pair.taken) == 5 + len(cases) + 5


def test_idempotency_keys_replay_and_conflict_alike(pair: Pair) -> None:
    key = [("Idempotency-Key", "retry-1")]
    first = _both(pair, _url("idem.json"), JSON + key)
    again = _both(pair, _url("idem.json"), JSON + key)
    assert first["status"] == again["status"] == 202
    other = _both(pair, _url("idem.json"), JSON + key, b'{"other": true}')
    elsewhere = _both(pair, _url("idem-2.json"), JSON + key)
    assert other["status"] >= 400 and elsewhere["status"] >= 400


def test_requests_it_does_not_take_are_left_to_the_route(pair: Pair) -> None:
    pair.taken.clear()
    dup = [("X-Sangraha-Meta-A", "1"), ("x-sangraha-meta-a", "2")]
    left = [
        (_url("q.json") + "?wait=0", JSON, GOOD, "writer", 202),
        (_url("q.json") + "?unknown=1", JSON, GOOD, "writer", 202),
        (_url("r.json"), JSON, GOOD, "reader", 403),
        (_url("r.json"), JSON, GOOD, "elsewhere", 403),
        (_url("r.json"), JSON, GOOD, "wrong", 401),
        (_url("r.json"), JSON, GOOD, "nobody", 401),
        (_url("d.json"), JSON + dup, GOOD, "writer", 400),
        (_url("d.json"), [*JSON, ("Content-Digest", "md5=nope")], GOOD, "writer", 400),
        (_url("d.json"), [*JSON, ("X-Sangraha-SHA256", "xyz")], GOOD, "writer", 400),
        (_url("d.json"), [*JSON, ("Idempotency-Key", "x" * 256)], GOOD, "writer", 400),
        (_url("d.json"), [*JSON, ("Idempotency-Key", "é")], GOOD, "writer", 400),
        (_url("big.json"), JSON, b'"' + b"x" * WHOLE_BODY_LIMIT + b'"', "writer", 202),
        (_url("huge.json"), JSON, b"x" * (MAX_OBJECT_SIZE + 1), "writer", 413),
        (_url("chunked.json"), JSON, _chunked, "writer", 202),
    ]
    for path, headers, body, role, status in left:
        assert _both(pair, path, headers, body, role=role)["status"] == status, (path, headers)
    assert pair.taken == []
    # Other methods and routes.
    assert (
        pair.fast.client.post(
            f"/v1/buckets/{VALIDATED}/objects",
            headers=[*pair.fast.auth("writer").items(), *JSON],
            content=GOOD,
        ).status_code
        == 202
    )
    assert (
        pair.fast.client.put(
            "/v1/buckets/new-bucket", headers=pair.fast.auth("operator")
        ).status_code
        == 201
    )
    assert pair.taken == []


_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
_DIGESTS = st.sampled_from(
    [
        [],
        [("Content-Digest", "right")],
        [("Content-Digest", content_digest(b"wrong"))],
        [("Content-Digest", "sha-256=:bm90IDMyIGJ5dGVz:")],
        [("X-Sangraha-SHA256", "right-hex")],
        [("X-Sangraha-SHA256", "0" * 64)],
        [("Content-Digest", "right"), ("X-Sangraha-SHA256", "0" * 64)],
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    bucket=st.sampled_from([VALIDATED, ANY, "Bad_Bucket", "other"]),
    key=st.one_of(st.sampled_from(KEYS), _TEXT),
    content_type=st.one_of(
        st.none(),
        st.sampled_from(["application/json", " application/json ", "image/png", "text/plain"]),
        _TEXT,
    ),
    body=st.one_of(st.sampled_from([GOOD, b"", b"not json", b"{}"]), st.binary(max_size=64)),
    digest=_DIGESTS,
    metadata=st.lists(st.tuples(_TEXT, _TEXT), max_size=3),
    idempotency=st.one_of(st.none(), st.sampled_from(["k1", "k2", ""]), _TEXT),
    role=st.sampled_from(ROLES),
)
def test_any_upload_is_answered_alike(
    pair: Pair,
    bucket: str,
    key: str,
    content_type: str | None,
    body: bytes,
    digest: list[tuple[str, str]],
    metadata: list[tuple[str, str]],
    idempotency: str | None,
    role: str,
) -> None:
    headers: list[tuple[str, str]] = []
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    for name, value in digest:
        if value == "right":
            value = content_digest(body)
        elif value == "right-hex":
            value = hashlib.sha256(body).hexdigest()
        headers.append((name, value))
    for name, value in metadata:
        headers.append(("X-Sangraha-Meta-" + quote(name, safe=""), value))
    if idempotency is not None:
        headers.append(("Idempotency-Key", idempotency))
    _both(pair, _url(key, bucket), headers, body, role=role)


# -- a client that goes away -------------------------------------------------------------


def _scope(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"receiver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("receiver", 80),
        "app": app,
    }


async def _gone_midway(app: FastAPI, path: str, bearer: str) -> dict[str, Any]:
    """Half the declared body, then a disconnect; the answer sent, normalized."""
    messages: list[Message] = [
        {"type": "http.request", "body": GOOD[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    headers = [
        (b"authorization", f"Bearer {bearer}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(GOOD)).encode()),
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    receive_: Receive = receive
    send_: Send = send
    await app(_scope(app, path, headers), receive_, send_)
    start = sent[0]
    content = b"".join(m.get("body", b"") for m in sent[1:])
    raw = [(n.decode(), v.decode()) for n, v in start["headers"]]
    return _normal(start["status"], raw, content)


def test_a_client_that_goes_away_mid_body(pair: Pair) -> None:
    pair.taken.clear()
    path = _url("gone.json")
    fast, routed = [
        anyio.run(_gone_midway, side.client.app, path, side.bearers["writer"])
        for side in (pair.fast, pair.routed)
    ]
    assert fast == routed
    assert fast["status"] == 400
    assert pair.taken == [path]
    # Nothing was kept of the partial upload.
    for side in (pair.fast, pair.routed):
        assert [r for r in records(side.backends, VALIDATED) if r.key == "gone.json"] == []


# -- the embedded server -------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_embedded_server_takes_small_uploads(tmp_path: Path, pair: Pair) -> None:
    pair.taken.clear()
    app = create_server(Settings(data_dir=tmp_path, auth="off"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            answer = await client.put(_url("served.json"), headers=JSON, content=GOOD)
            assert answer.status_code == 202, answer.text
            assert answer.headers["location"] == f"/v1/objects/{answer.json()['id']}"
            refused = await client.put(_url("new\nline"), headers=JSON, content=GOOD)
            assert refused.status_code == 400
    assert pair.taken == [_url("served.json"), "/v1/buckets/docs/objects/new\nline"]
