"""A stand-in for the admin API (``/v1/keys``), served through MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from sangraha_core.access import bearer_token, new_key_id, new_secret
from tests.client.fake_sangraha import problem

__all__ = ["BEARER", "KEY_ID", "SECRET", "AdminAPI", "view"]

KEY_ID = new_key_id()
SECRET = new_secret()
BEARER = bearer_token(KEY_ID, SECRET)


def view(key_id: str = KEY_ID, *, secret: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key_id": key_id,
        "name": "",
        "grants": [{"buckets": "photos-*", "actions": ["list", "read"]}],
        "status": "active",
        "created_at": datetime.now(UTC).isoformat(),
        "expires_at": None,
        "revoked_at": None,
        "last_used_at": None,
        "rate_limit": None,
        **extra,
    }
    if secret:
        body["secret"] = SECRET
        body["bearer"] = BEARER
    return body


class AdminAPI:
    """Answers each key route with a canned key, recording what it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status is not None:
            slug = {403: "access-denied", 404: "access-key-not-found"}.get(self.status, "x")
            return problem(self.status, slug, "refused")
        path = request.url.path
        if request.method == "POST" and path == "/v1/keys":
            sent = json.loads(request.content)
            return httpx.Response(201, json=view(secret=True, **sent))
        if path == "/v1/keys":
            return httpx.Response(200, json=[view(), view("SKOTHERKEY234567ABCD")])
        if path.endswith("/revoke"):
            return httpx.Response(200, json=view(status="revoked", revoked_at=_now()))
        if path.endswith("/rotate"):
            return httpx.Response(200, json=view(secret=True))
        return httpx.Response(200, json=view())

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _now() -> str:
    return datetime.now(UTC).isoformat()
