"""Request ids and Prometheus metrics, as one pure ASGI middleware; the logs they mark are
``sangraha_core``'s. ``/metrics`` also gauges the queue's depth and what the metadata store
holds (versions by status, bytes stored and saved by deduplication), the latter counted at
most every ``STORE_STATS_TTL`` seconds, since counting reads every record.

Pure ASGI (not BaseHTTPMiddleware) so streamed bodies pass through untouched and the cost
per request stays a few microseconds.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import threading
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._exceptions import SangrahaError
from .._logging import request_id
from ..metadata import Stats

__all__ = [
    "BYTES_IN",
    "BYTES_OUT",
    "QUEUE_DEPTH",
    "STORE_STATS_TTL",
    "UNAVAILABLE",
    "ObservabilityMiddleware",
    "StoreGauges",
    "metrics_endpoint",
]

_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

REQUESTS = Counter(
    "sangraha_http_requests_total",
    "HTTP requests answered",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "sangraha_http_request_duration_seconds",
    "Time to answer an HTTP request (to the last byte)",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BYTES_IN = Counter("sangraha_bytes_in_total", "Body bytes received", ["service"])
BYTES_OUT = Counter("sangraha_bytes_out_total", "Body bytes sent", ["service"])
UNAVAILABLE = Counter(
    "sangraha_backend_unavailable_total",
    "Requests answered 503 because a backend could not be reached (a refused publish counts "
    "under queue)",
    ["backend"],
)
QUEUE_DEPTH = Gauge("sangraha_queue_depth", "Jobs waiting in the processing queue")
OBJECTS = Gauge("sangraha_objects", "Object versions in the metadata store, by status", ["status"])
OBJECT_BYTES = Gauge(
    "sangraha_object_bytes",
    "Sizes of the ready object versions, added up: what would be stored without deduplication",
)
STORED_BLOBS = Gauge("sangraha_stored_blobs", "Stored blobs that some record references")
STORED_BYTES = Gauge(
    "sangraha_stored_bytes", "Sizes of the stored blobs that some record references, added up"
)
DEDUP_SAVED_BYTES = Gauge(
    "sangraha_dedup_saved_bytes",
    "Bytes deduplication saved: the ready versions' sizes less the stored blobs' sizes",
)

#: Request ids drawn from one read of the system's randomness: one syscall per this many.
_IDS_PER_READ = 256
_ID_BYTES = 16


class _RequestIds:
    """New request ids: 128 random bits in hex, like a UUID's hex form without its
    object's cost, read from ``os.urandom`` a block at a time rather than per request.

    Safe across threads: each id's place is a number no other call gets, and a block is
    only ever replaced by a whole new one, so two ids never share bytes.
    """

    def __init__(self) -> None:
        self._count = itertools.count()
        self._block: tuple[int, bytes] = (-1, b"")

    def new(self) -> str:
        number, place = divmod(next(self._count), _IDS_PER_READ)
        block = self._block
        if block[0] != number:
            block = self._block = (number, os.urandom(_ID_BYTES * _IDS_PER_READ))
        start = place * _ID_BYTES
        return block[1][start : start + _ID_BYTES].hex()


#: Seconds the store's counts are kept between scrapes.
STORE_STATS_TTL = 15.0


class StoreGauges:
    """The store gauges of one app, counted anew at most every ``ttl`` seconds.

    A scrape within ``ttl`` of the last count, or while another scrape counts, answers
    with the numbers already set; a store that cannot count (no :class:`Stats`) or cannot
    be reached leaves them as they are.
    """

    def __init__(self, ttl: float = STORE_STATS_TTL) -> None:
        self.ttl = ttl
        self._counted_at = -math.inf
        self._lock = threading.Lock()

    def refresh(self, store: object) -> None:
        """Count ``store`` if its last count is older than ``ttl``; blocks (call it in a
        worker thread)."""
        if not isinstance(store, Stats) or time.monotonic() - self._counted_at < self.ttl:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            if time.monotonic() - self._counted_at < self.ttl:
                return
            try:
                stats = store.stats()
            except SangrahaError:
                return  # the database is away: the last numbers stay, the next scrape retries
            self._counted_at = time.monotonic()
        finally:
            self._lock.release()
        OBJECTS.labels("ready").set(stats.ready)
        OBJECTS.labels("pending").set(stats.pending)
        OBJECTS.labels("failed").set(stats.failed)
        OBJECT_BYTES.set(stats.ready_bytes)
        STORED_BLOBS.set(stats.blobs)
        STORED_BYTES.set(stats.blob_bytes)
        DEDUP_SAVED_BYTES.set(stats.dedup_saved_bytes)


class ObservabilityMiddleware:
    """Give every request an id (kept from ``X-Request-ID`` when sane), count and time it."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        self._bytes_in = BYTES_IN.labels(service)
        self._bytes_out = BYTES_OUT.labels(service)
        # Looking a labelled child up costs more than counting in it: keep each one found.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._ids = _RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SAFE_ID.fullmatch(candidate):
                    rid = candidate
                break
        rid = rid or self._ids.new()
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()
        bytes_in = self._bytes_in
        bytes_out = self._bytes_out

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                if body:
                    bytes_in.inc(len(body))
            return message

        async def tagging_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if body:
                    bytes_out.inc(len(body))
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            found = (scope["method"], template, status)
            children = self._children.get(found)
            if children is None:
                method = found[0]
                children = (
                    REQUESTS.labels(self.service, method, template, str(status)),
                    LATENCY.labels(self.service, method, template),
                )
                self._children[found] = children
            children[0].inc()
            children[1].observe(elapsed)
            request_id.reset(token)


async def metrics_endpoint(request: Request) -> Response:
    state = request.app.state
    backends = getattr(state, "backends", None)
    if backends is not None:
        # Read at scrape time: the broker is the one place that knows the backlog.
        with contextlib.suppress(SangrahaError):
            QUEUE_DEPTH.set(await run_in_threadpool(backends.queue.depth))
        gauges: StoreGauges | None = getattr(state, "store_gauges", None)
        if gauges is None:
            gauges = state.store_gauges = StoreGauges()
        await run_in_threadpool(gauges.refresh, backends.metadata)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
