"""A small in-memory stand-in for the Sangraha HTTP API, served through MockTransport."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import httpx

PROBLEM = "https://sangraha.dev/problems/"


def problem(status: int, slug: str, detail: str = "", **headers: str) -> httpx.Response:
    body = {"type": PROBLEM + slug, "title": slug.replace("-", " "), "status": status}
    if detail:
        body["detail"] = detail
    return httpx.Response(
        status,
        json=body,
        headers={"Content-Type": "application/problem+json", **headers},
    )


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat()


def record(
    bucket: str, key: str, data: bytes, content_type: str, n: int, **extra: Any
) -> dict[str, Any]:
    kind = {"application/json": "json", "application/pdf": "pdf"}.get(content_type, "image")
    return {
        "id": f"{n:032x}",
        "bucket": bucket,
        "key": key,
        "status": extra.pop("status", "ready"),
        "kind": kind,
        "content_type": content_type,
        "size": len(data),
        "digest": digest_of(data),
        "created_at": now(),
        "updated_at": now(),
        **extra,
    }


@dataclass
class Session:
    id: str
    bucket: str
    key: str
    content_type: str
    size: int | None
    digest: str | None
    parts: dict[int, bytes] = field(default_factory=dict)
    status: str = "open"
    object_id: str | None = None

    def to_json(self, min_part: int, max_part: int, max_parts: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "bucket": self.bucket,
            "key": self.key,
            "content_type": self.content_type,
            "kind": "json" if self.content_type == "application/json" else "pdf",
            "size": self.size,
            "digest": self.digest,
            "status": self.status,
            "created_at": now(),
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "parts": [
                {"number": n, "size": len(b), "etag": f'"{n}"', "digest": digest_of(b)}
                for n, b in sorted(self.parts.items())
            ],
            "min_part_size": min_part,
            "max_part_size": max_part,
            "max_parts": max_parts,
            "object_id": self.object_id,
        }


class FakeSangraha:
    """Enough of the service to exercise the client; ``requests`` records every call."""

    def __init__(self, *, min_part: int = 4, max_part: int = 1024, max_parts: int = 100) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = {}
        self.by_id: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.sessions: dict[str, Session] = {}
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.min_part, self.max_part, self.max_parts = min_part, max_part, max_parts
        self.counter = 0
        #: Called first with each request; a response it returns is answered instead.
        self.intercept: Callable[[httpx.Request], httpx.Response | None] | None = None
        #: Keys whose processing fails with this reason: an upload or a complete that asks
        #: to ``wait`` answers the failed record, one that does not the pending one.
        self.failing: dict[str, str] = {}

    def _settled(self, request: httpx.Request, key: str) -> dict[str, Any]:
        if key in self.failing:
            if "wait" in request.url.params:
                return {"status": "failed", "error": self.failing[key]}
            return {"status": "pending"}
        return {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def store(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/json",
        **extra: Any,
    ) -> dict[str, Any]:
        self.counter += 1
        rec = record(bucket, key, data, content_type, self.counter, **extra)
        self.objects[(bucket, key)] = (data, rec)
        self.by_id[rec["id"]] = (data, rec)
        return rec

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.requests.append(request)
        self.bodies.append(body)
        if self.intercept is not None:
            answer = self.intercept(request)
            if answer is not None:
                return answer
        path = request.url.raw_path.decode().split("?")[0]
        m = re.fullmatch(r"/v1/buckets/([^/]+)/objects/(.+)", path)
        if m:
            bucket, key = unquote(m[1]), unquote(m[2])
            return self._object(request, bucket, key, body)
        m = re.fullmatch(r"/v1/buckets/([^/]+)/objects", path)
        if m and request.method == "GET":
            return self._list(request, unquote(m[1]))
        if m and request.method == "POST":
            self.counter += 1
            return self._object(request, unquote(m[1]), f"generated-{self.counter}", body)
        m = re.fullmatch(r"/v1/buckets/([^/]+)/metadata/(.+)", path)
        if m:
            found = self.objects.get((unquote(m[1]), unquote(m[2])))
            return httpx.Response(200, json=found[1]) if found else problem(404, "not-found")
        m = re.fullmatch(r"/v1/objects/([0-9a-f]+)", path)
        if m:
            got = self.by_id.get(m[1])
            return httpx.Response(200, json=got[1]) if got else problem(404, "not-found")
        m = re.fullmatch(r"/v1/buckets/([^/]+)/uploads", path)
        if m:
            return self._create_session(unquote(m[1]), json.loads(body))
        m = re.fullmatch(r"/v1/uploads/([^/]+)(/parts/(\d+)|/complete)?", path)
        if m:
            return self._session(request, m[1], m[2], m[3], body)
        return problem(404, "not-found", f"no route {path}")

    def _object(self, request: httpx.Request, bucket: str, key: str, body: bytes) -> httpx.Response:
        if request.method in ("PUT", "POST"):
            declared = request.headers.get("content-digest")
            if declared:
                b64 = declared.split("=:", 1)[1].rstrip(":")
                if base64.b64decode(b64) != hashlib.sha256(body).digest():
                    return problem(400, "checksum-mismatch")
            meta = {
                k[len("x-sangraha-meta-") :]: v
                for k, v in request.headers.items()
                if k.startswith("x-sangraha-meta-")
            }
            rec = self.store(
                bucket,
                key,
                body,
                request.headers["content-type"],
                metadata=meta,
                **self._settled(request, key),
            )
            return httpx.Response(
                202, json=rec, headers={"Location": f"/v1/buckets/{bucket}/metadata/{quote(key)}"}
            )
        if request.method == "DELETE":
            if self.objects.pop((bucket, key), None) is None:
                return problem(404, "not-found")
            return httpx.Response(204)
        found = self.objects.get((bucket, key))
        if found is None:
            return problem(404, "not-found")
        data, rec = found
        headers = {"ETag": f'"{rec["digest"]}"', "Content-Type": rec["content_type"]}
        rng = request.headers.get("range")
        if rng:
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                return problem(416, "invalid-range")
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            return httpx.Response(206, content=data[start:], headers=headers)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, content=data, headers=headers)

    def _list(self, request: httpx.Request, bucket: str) -> httpx.Response:
        q = request.url.params
        items = sorted(
            (rec for (b, k), (_, rec) in self.objects.items() if b == bucket),
            key=lambda r: r["key"],
        )
        if "prefix" in q:
            items = [r for r in items if r["key"].startswith(q["prefix"])]
        for name, value in q.items():
            if name.startswith("meta."):
                items = [r for r in items if r.get("metadata", {}).get(name[5:]) == value]
        start = int(q.get("cursor", "0"))
        limit = int(q.get("limit", "100"))
        chunk = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else None
        return httpx.Response(200, json={"items": chunk, "next_cursor": nxt})

    def _create_session(self, bucket: str, payload: dict[str, Any]) -> httpx.Response:
        self.counter += 1
        sid = f"up{self.counter}"
        s = Session(
            sid,
            bucket,
            payload["key"],
            payload["content_type"],
            payload.get("size"),
            payload.get("digest"),
        )
        self.sessions[sid] = s
        return httpx.Response(201, json=s.to_json(self.min_part, self.max_part, self.max_parts))

    def _session(
        self, request: httpx.Request, sid: str, tail: str | None, number: str | None, body: bytes
    ) -> httpx.Response:
        s = self.sessions.get(sid)
        if s is None or (s.status == "aborted"):
            return problem(404, "upload-not-found")
        if number is not None:
            if s.status != "open":
                return problem(409, "upload-state")
            s.parts[int(number)] = body
            return httpx.Response(
                200,
                json=s.to_json(self.min_part, self.max_part, self.max_parts)["parts"][
                    sorted(s.parts).index(int(number))
                ],
            )
        if tail == "/complete":
            if s.status != "open":
                return problem(409, "upload-state")
            data = b"".join(b for _, b in sorted(s.parts.items()))
            late = json.loads(body).get("digest") if body else None
            if any(d and digest_of(data) != d for d in (s.digest, late)):
                return problem(400, "checksum-mismatch")
            settled = {"status": "pending", **self._settled(request, s.key)}
            rec = self.store(s.bucket, s.key, data, s.content_type, **settled)
            s.status, s.object_id = "completed", rec["id"]
            return httpx.Response(202, json=rec)
        if request.method == "DELETE":
            s.status = "aborted"
            return httpx.Response(204)
        return httpx.Response(200, json=s.to_json(self.min_part, self.max_part, self.max_parts))
