"""A bounded load driver, run in a process of its own so it never shares a GIL with a server.

``python -m benchmarks._driver '<json spec>'`` runs one scenario and prints one JSON line:
requests, errors, elapsed seconds, the rate per second and latency percentiles. Every run
stops at ``count`` operations or ``duration`` seconds, whichever comes first.

Scenarios (``spec["mode"]``):

- ``http``: ``concurrency`` keep-alive connections send ``method`` to ``path`` (``{i}`` is the
  operation number modulo ``keys``, offset by ``first``); ``body`` is ``json`` (a JSON
  document of ``size`` bytes, different for each ``{i}``), ``png`` (a valid PNG of about
  ``size`` bytes, different for each ``{i}``), ``bytes`` or absent.
- ``boto3-put`` / ``boto3-get``: ``concurrency`` threads against an S3 ``endpoint``.
- ``pika-publish``: ``concurrency`` threads, each with its own connection and a confirmed
  channel, publish persistent messages of ``size`` bytes to a queue of their own.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["json_body", "png_body", "summarise"]

#: A driver never runs longer than this, whatever the spec asks.
MAX_DURATION = 60.0


def json_body(i: int, size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 40), unique to ``i``."""
    head = b'{"n":%d,"pad":"' % i
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_body(i: int, size: int) -> bytes:
    """A valid RGB PNG of about ``size`` bytes, stored without compression, unique to ``i``."""
    width = 128
    height = max(1, size // (width * 3 + 1))
    seed = i.to_bytes(8, "big")
    row = (seed * (width * 3 // 8 + 1))[: width * 3]
    raw = b"".join(b"\x00" + row for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 0))
        + _chunk(b"IEND", b"")
    )


def summarise(
    latencies: list[float], statuses: Counter[str], errors: int, elapsed: float
) -> dict[str, Any]:
    """Rate and latency figures of one run; ``latencies`` are of successful operations."""
    done = len(latencies)
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "ok": done,
        "errors": errors,
        "statuses": dict(statuses),
        "elapsed_s": round(elapsed, 3),
        "per_s": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2) if ordered else None,
    }


class _Budget:
    """Hands out operation numbers until ``count`` are taken or ``duration`` has passed."""

    def __init__(self, count: int, duration: float) -> None:
        self._next = 0
        self._count = count
        self._deadline = time.monotonic() + min(duration, MAX_DURATION)
        self._lock = threading.Lock()

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count or time.monotonic() >= self._deadline:
                return None
            self._next += 1
            return self._next - 1


def _body_maker(spec: dict[str, Any]) -> Callable[[int], bytes | None]:
    kind = spec.get("body")
    size = int(spec.get("size", 4096))
    if kind == "json":
        return lambda i: json_body(i, size)
    if kind == "png":
        return lambda i: png_body(i, size)
    if kind == "bytes":
        fixed = b"b" * size
        return lambda _i: fixed
    return lambda _i: None


class _Connection:
    """One keep-alive HTTP/1.1 connection: just enough client to time a server, no more.

    httpx's async client costs about 3 ms of CPU a request on this machine, so it would
    measure itself rather than the server; this one costs a few tens of microseconds.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host.encode()

    @classmethod
    async def open(cls, url: str) -> _Connection:
        parsed = urlsplit(url)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, target: str, body: bytes | None, content_type: str | None
    ) -> int:
        """Send one request and read the whole answer; its status code."""
        head = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + self._host]
        if body is not None:
            head.append(b"Content-Length: %d" % len(body))
        if content_type is not None:
            head.append(b"Content-Type: " + content_type.encode())
        self._writer.write(b"\r\n".join(head) + b"\r\n\r\n" + (body or b""))
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while size := int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self._reader.readexactly(size + 2)
            await self._reader.readuntil(b"\r\n")
        elif length and method != "HEAD":
            await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


async def _run_http(spec: dict[str, Any]) -> dict[str, Any]:
    concurrency = int(spec.get("concurrency", 16))
    keys = int(spec.get("keys", 1 << 62))
    first = int(spec.get("first", 0))
    method = spec.get("method", "GET")
    path: str = spec["path"]
    expect = set(spec.get("expect", [200]))
    content_type = spec.get("content_type")
    make_body = _body_maker(spec)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0

    async def one_connection(connection: _Connection, budget: _Budget) -> None:
        nonlocal errors
        while (n := budget.take()) is not None:
            i = first + n % keys
            body = make_body(i)
            started = time.perf_counter()
            try:
                status = await connection.request(method, path.format(i=i), body, content_type)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                statuses["exception"] += 1
                connection.close()
                connection = await _Connection.open(spec["url"])
                continue
            took = time.perf_counter() - started
            statuses[str(status)] += 1
            if status in expect:
                latencies.append(took)
            else:
                errors += 1
        connection.close()

    connections = [await _Connection.open(spec["url"]) for _ in range(concurrency)]
    # Connection set-up is not what is measured: every connection answers once first.
    for connection in connections:
        await connection.request("GET", spec.get("warmup", "/healthz"), None, None)
    budget = _Budget(int(spec.get("count", 1 << 62)), float(spec.get("duration", 10)))
    started_wall = time.time()
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(c, budget) for c in connections))
    elapsed = time.perf_counter() - started
    return {"started": started_wall, **summarise(latencies, statuses, errors, elapsed)}


def _run_threads(
    spec: dict[str, Any], make_op: Callable[[], Callable[[int], None]]
) -> dict[str, Any]:
    """``concurrency`` threads, each calling its own ``op(i)`` until the budget is spent."""
    concurrency = int(spec.get("concurrency", 4))
    budget = _Budget(int(spec.get("count", 1 << 62)), float(spec.get("duration", 10)))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    lock = threading.Lock()
    ops = [make_op() for _ in range(concurrency)]

    def loop(op: Callable[[int], None]) -> None:
        nonlocal errors
        while (i := budget.take()) is not None:
            started = time.perf_counter()
            try:
                op(i)
            except Exception as exc:
                with lock:
                    errors += 1
                    statuses[type(exc).__name__] += 1
                continue
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                statuses["ok"] += 1

    started_wall = time.time()
    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(op,)) for op in ops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"started": started_wall, **summarise(latencies, statuses, errors, elapsed)}


def _boto3_op(spec: dict[str, Any]) -> Callable[[], Callable[[int], None]]:
    import boto3

    size = int(spec.get("size", 4096))
    keys = int(spec.get("keys", 1 << 62))
    bucket = spec["bucket"]
    put = spec["mode"] == "boto3-put"

    def make() -> Callable[[int], None]:
        s3 = boto3.client(
            "s3",
            endpoint_url=spec["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def op(i: int) -> None:
            key = f"bench/{i % keys}"
            if put:
                s3.put_object(Bucket=bucket, Key=key, Body=json_body(i, size))
            else:
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()

        return op

    return make


def _pika_op(spec: dict[str, Any]) -> Callable[[], Callable[[int], None]]:
    import pika

    body = b"m" * int(spec.get("size", 200))

    def make() -> Callable[[int], None]:
        connection = pika.BlockingConnection(pika.URLParameters(spec["amqp_url"]))
        channel = connection.channel()
        channel.confirm_delivery()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        properties = pika.BasicProperties(delivery_mode=2)

        def op(_i: int) -> None:
            channel.basic_publish("", queue, body, properties, mandatory=True)

        return op

    return make


def run(spec: dict[str, Any]) -> dict[str, Any]:
    mode = spec.get("mode", "http")
    if mode == "http":
        try:
            import uvloop

            return uvloop.run(_run_http(spec))
        except ImportError:
            return asyncio.run(_run_http(spec))
    if mode in ("boto3-put", "boto3-get"):
        return _run_threads(spec, _boto3_op(spec))
    if mode == "pika-publish":
        return _run_threads(spec, _pika_op(spec))
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
