"""A fake bucket API: ``/v1/buckets`` answered from a dict, recording what it was sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.client.fake_sangraha import problem

__all__ = ["BucketAPI"]

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()


class BucketAPI:
    """Buckets by name; PUT makes or changes one (honouring ``If-None-Match: *`` and
    ``If-Match: *``), DELETE removes it unless ``full`` names it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.buckets: dict[str, dict[str, Any]] = {}
        self.full: set[str] = set()

    def add(self, name: str, kinds: str = "validated", objects: int = 0, size: int = 0) -> None:
        self.buckets[name] = {
            "name": name,
            "kinds": kinds,
            "created_at": CREATED,
            "objects": objects,
            "bytes": size,
        }

    @staticmethod
    def _bucket(summary: dict[str, Any]) -> dict[str, Any]:
        return {k: summary[k] for k in ("name", "kinds", "created_at")}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v1/buckets" and request.method == "GET":
            return httpx.Response(200, json=[self.buckets[n] for n in sorted(self.buckets)])
        name = path.removeprefix("/v1/buckets/")
        found = self.buckets.get(name)
        if request.method == "GET":
            if found is None:
                return problem(404, "no-such-bucket", f"no bucket {name!r}")
            return httpx.Response(200, json=self._bucket(found))
        if request.method == "DELETE":
            if found is None:
                return problem(404, "no-such-bucket", f"no bucket {name!r}")
            if name in self.full:
                return problem(409, "bucket-not-empty", f"bucket {name!r} still holds objects")
            del self.buckets[name]
            return httpx.Response(204)
        kinds = json.loads(request.content or b"{}").get("kinds")
        if found is not None:
            if request.headers.get("if-none-match") == "*":
                return problem(409, "bucket-exists", f"bucket {name!r} already exists")
            if kinds is not None:
                found["kinds"] = kinds
            return httpx.Response(200, json=self._bucket(found))
        if request.headers.get("if-match") == "*":
            return problem(404, "no-such-bucket", f"no bucket {name!r}")
        self.add(name, kinds or "validated")
        return httpx.Response(201, json=self._bucket(self.buckets[name]))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)
