"""Looking behind the receiver: what it left in the blob store, the database and the queue."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable

import httpx

from sangraha_core import Backends, ListQuery, ObjectRecord, ProcessObject, staging_key

BackendsFactory = Callable[..., Backends]
"""Opens embedded backends with extra settings (the ``make_embedded`` fixture)."""

PROBLEM_TYPE = "application/problem+json"

#: The smallest valid object of each kind the tests upload.
JSON_BODY = b'{"hello": "world", "n": [1, 2, 3]}'


def content_digest(data: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"


def staged_bytes(backends: Backends, object_id: str) -> bytes:
    return b"".join(backends.blobs.get(staging_key(object_id)))


def staging_keys(backends: Backends) -> list[str]:
    return [info.key for info in backends.blobs.list("staging/")]


def records(backends: Backends, bucket: str) -> list[ObjectRecord]:
    return backends.metadata.list_objects(ListQuery(bucket=bucket)).items


def drain(backends: Backends, *, timeout: float = 1.0) -> list[ProcessObject]:
    """Every message now on the queue (each acked), waiting ``timeout`` for the last one."""
    consumer = backends.queue.consumer(prefetch=10)
    messages: list[ProcessObject] = []
    try:
        while (delivery := consumer.receive(timeout)) is not None:
            messages.append(delivery.message)
            delivery.ack()
    finally:
        consumer.close()
    return messages


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_TYPE
    body: dict[str, object] = response.json()
    assert body["type"] == f"https://sangraha.dev/problems/{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


async def chunked(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as a streamed body with no Content-Length (chunked transfer)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
