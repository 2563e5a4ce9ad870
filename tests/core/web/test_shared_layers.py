"""The shared layers' shortcuts answer as the general paths do: bearer tokens read from the
raw headers, a key's principal kept per read of the key, request ids drawn a block at a
time, and the UTF-8 and nosniff rules on requests with nothing to decode."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from starlette.types import Message, Receive, Scope, Send

from sangraha_core import AccessKeyNotFoundError, UnauthenticatedError, utcnow
from sangraha_core.access import (
    OPERATOR,
    AccessKey,
    Authenticator,
    Grant,
    KeyAdmin,
    KeyRing,
    MasterKey,
    NeedsRead,
)
from sangraha_core.web._access import _bearer_of
from sangraha_core.web._hardening import HardeningMiddleware
from sangraha_core.web._observability import _IDS_PER_READ, _RequestIds


class Keys:
    """The ``AccessKeys`` calls a ring and an admin make, in a dict."""

    def __init__(self) -> None:
        self.keys: dict[str, AccessKey] = {}

    def create_access_key(self, key: AccessKey) -> None:
        self.keys[key.key_id] = key

    def get_access_key(self, key_id: str) -> AccessKey:
        try:
            return self.keys[key_id]
        except KeyError:
            raise AccessKeyNotFoundError(key_id) from None

    def list_access_keys(self) -> list[AccessKey]:
        return list(self.keys.values())

    def revoke_access_key(self, key_id: str, at: datetime) -> AccessKey:
        self.keys[key_id] = self.keys[key_id].model_copy(update={"revoked_at": at})
        return self.keys[key_id]

    def rotate_access_key(self, key_id: str, sealed_secret: str) -> AccessKey:
        self.keys[key_id] = self.keys[key_id].model_copy(update={"sealed_secret": sealed_secret})
        return self.keys[key_id]

    def touch_access_key(self, key_id: str, at: datetime) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scope_with(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "headers": list(headers)}


def test_a_bearer_token_is_read_from_one_authorization_header_only() -> None:
    assert _bearer_of(scope_with((b"authorization", b"Bearer  SKA.b \t"))) == "SKA.b"
    assert _bearer_of(scope_with((b"authorization", b"bEaReR SKA.b"))) == "SKA.b"
    # Two headers are joined by the general path, which then judges the whole.
    two = scope_with((b"authorization", b"Bearer SKA.b"), (b"authorization", b"Bearer SKC.d"))
    assert _bearer_of(two) is None
    assert _bearer_of(scope_with((b"authorization", b"AWS4-HMAC-SHA256 Credential=x"))) is None
    assert _bearer_of(scope_with((b"host", b"h"))) is None


def test_the_principal_is_kept_per_read_and_revocation_still_lands_within_the_refresh() -> None:
    keys, master, clock = Keys(), MasterKey.generate()[0], Clock()
    ring = KeyRing(keys, master, refresh=2.0, clock=clock)
    new = KeyAdmin(keys, master).create(OPERATOR, grants=[Grant.parse("docs:read")])
    auth = Authenticator()
    with pytest.raises(NeedsRead):
        auth.bearer(new.bearer, ring.peek)
    first = auth.bearer(new.bearer, ring.lookup).principal
    assert first == new.key.principal()
    assert auth.bearer(new.bearer, ring.peek).principal is first
    with pytest.raises(UnauthenticatedError, match="wrong secret"):
        auth.bearer(new.bearer + "x", ring.peek)
    clock.now += 2.0
    again = auth.bearer(new.bearer, ring.lookup).principal
    assert again == first and again is not first  # read afresh, made afresh
    KeyAdmin(keys, master).revoke(OPERATOR, new.key.key_id)
    auth.bearer(new.bearer, ring.lookup)  # trusted until the refresh has passed
    clock.now += 2.0
    with pytest.raises(UnauthenticatedError, match="revoked"):
        auth.bearer(new.bearer, ring.lookup)


def test_an_expiry_that_passes_while_the_key_is_held_is_seen_at_once() -> None:
    keys, master = Keys(), MasterKey.generate()[0]
    ring = KeyRing(keys, master, refresh=3600.0)
    expires = utcnow() + timedelta(minutes=5)
    new = KeyAdmin(keys, master).create(
        OPERATOR, grants=[Grant.parse("docs:read")], expires_at=expires
    )
    now = [utcnow()]
    auth = Authenticator(clock=lambda: now[0])
    auth.bearer(new.bearer, ring.lookup)
    now[0] = expires + timedelta(seconds=1)
    with pytest.raises(UnauthenticatedError, match="expired"):
        auth.bearer(new.bearer, ring.peek)


def test_request_ids_are_distinct_hex_across_reads_of_randomness() -> None:
    ids = _RequestIds()
    drawn = [ids.new() for _ in range(3 * _IDS_PER_READ + 7)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in drawn)


def answer_with(headers: list[tuple[bytes, bytes]]) -> object:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def call(app: object, raw_path: bytes, query: bytes = b"") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "headers": [],
    }
    asyncio.run(HardeningMiddleware(app)(scope, receive, send))  # type: ignore[arg-type]
    return sent


def test_nosniff_is_added_once_and_non_utf8_paths_and_queries_are_still_refused() -> None:
    sent = call(answer_with([(b"content-type", b"text/plain")]), b"/v1/buckets/b/objects/a")
    assert sent[0]["status"] == 200
    assert sent[0]["headers"] == [
        (b"content-type", b"text/plain"),
        (b"x-content-type-options", b"nosniff"),
    ]
    marked = [(b"X-Content-Type-Options", b"nosniff")]
    assert call(answer_with(marked), b"/a")[0]["headers"] == marked
    assert call(answer_with([]), b"/a", b"prefix=%C3%A9")[0]["status"] == 200
    assert call(answer_with([]), b"/a/%FF")[0]["status"] == 400
    refused = call(answer_with([]), b"/a", b"prefix=%FF")
    assert refused[0]["status"] == 400
    assert (b"x-content-type-options", b"nosniff") in refused[0]["headers"]
