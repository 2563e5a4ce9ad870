"""A large object streams through the app in bounded memory, and is released when done."""

from __future__ import annotations

import dataclasses
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any, cast

import anyio
import pytest
from fastapi import FastAPI
from starlette.types import Message

from sangraha_core import CHUNK_SIZE, Backends, Hasher
from sangraha_core.storage import BlobStore
from sangraha_getter import create_app
from tests.getter._seed import BUCKET, Seed

pytestmark = pytest.mark.anyio

SIZE = 64 * 1024 * 1024


async def _call(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """Drive the app as a server would, keeping nothing of the body but its hash.

    (httpx's ASGI transport collects the whole body, which would hide what is measured.)
    """
    done = anyio.Event()
    hasher = Hasher()
    result: dict[str, Any] = {"chunks": 0}
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                hasher.update(body)
                result["chunks"] += 1
                result["largest"] = max(result.get("largest", 0), len(body))
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"getter"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("getter", 80),
        "state": {},
    }
    await app(scope, receive, send)
    result["digest"] = hasher.digest()
    result["size"] = hasher.size
    return result


async def test_large_object_streams_in_bounded_memory(app: FastAPI, seed: Seed) -> None:
    block = os.urandom(CHUNK_SIZE)
    record = seed.ready_streamed(
        "big/video.jpg", (block for _ in range(SIZE // CHUNK_SIZE)), "image/jpeg"
    )
    assert record.size == SIZE
    tracemalloc.start()
    try:
        result = await _call(app, f"/v1/buckets/{BUCKET}/objects/big/video.jpg", [])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["status"] == 200
    assert result["headers"]["content-length"] == str(SIZE)
    assert result["size"] == SIZE
    assert result["digest"] == record.digest
    assert result["chunks"] >= SIZE // CHUNK_SIZE
    assert result["largest"] <= CHUNK_SIZE
    assert peak < SIZE // 8, f"peak {peak} bytes while streaming {SIZE}"


async def test_large_range_streams_too(app: FastAPI, seed: Seed) -> None:
    block = bytes(range(256)) * (CHUNK_SIZE // 256)
    record = seed.ready_streamed("big/part.jpg", (block for _ in range(8)), "image/jpeg")
    start = CHUNK_SIZE // 2
    end = 5 * CHUNK_SIZE + 7
    result = await _call(
        app,
        f"/v1/objects/{record.id}/content",
        [(b"range", f"bytes={start}-{end - 1}".encode())],
    )
    assert result["status"] == 206
    expected = Hasher()
    expected.update((block * 8)[start:end])
    assert result["digest"] == expected.digest()
    assert result["headers"]["content-range"] == f"bytes {start}-{end - 1}/{8 * CHUNK_SIZE}"


class _Tracked:
    """A blob store whose streams report whether they were closed."""

    def __init__(self, inner: BlobStore) -> None:
        self._inner = inner
        self.streams: list[Iterator[bytes]] = []
        self.closed = 0

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        stream = self._inner.get(key, start=start, end=end)
        tracker = self

        class Stream:
            def __iter__(self) -> Iterator[bytes]:
                return self

            def __next__(self) -> bytes:
                return next(stream)

            def close(self) -> None:
                tracker.closed += 1
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

        wrapped = Stream()
        self.streams.append(wrapped)
        return wrapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_stream_is_closed_when_the_client_goes_away(backends: Backends, seed: Seed) -> None:
    block = os.urandom(CHUNK_SIZE)
    record = seed.ready_streamed("big/gone.jpg", (block for _ in range(8)), "image/jpeg")
    tracked = _Tracked(backends.blobs)
    app = create_app(backends=dataclasses.replace(backends, blobs=cast(BlobStore, tracked)))
    sent = 0

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            sent += 1
            if sent == 2:
                raise OSError("connection reset by peer")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/v1/objects/{record.id}/content",
        "raw_path": f"/v1/objects/{record.id}/content".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"getter")],
        "client": ("127.0.0.1", 50000),
        "server": ("getter", 80),
        "state": {},
    }
    with pytest.raises(Exception):  # noqa: B017 (the server sees the disconnect, whatever its type)
        await app(scope, receive, send)
    assert len(tracked.streams) == 1
    assert tracked.closed == 1
    assert sent == 2  # it stopped reading at once
