"""Answer plain reads of small objects by key before FastAPI routing.

``GET`` and ``HEAD /v1/buckets/{bucket}/objects/{key}`` without a query string, ``Range``,
``If-Range`` or ``If-Modified-Since`` is the hot read. :class:`ReadFastPath` answers it
from the read cache: the key's record (with its answers' headers, worked out once by the
content route's own planner) and its small blob, each looked up as the content route does
on a miss and kept. It sends the same status, headers and body the content route would, skipping
routing, dependency handling and response building. Anything else (a key that is
missing, pending or refused, a large blob, a condition it does not handle, another
route, an app that cannot cache records by key) goes on to the app, which answers it,
errors included, exactly as before.

It must sit inside the request-id, metrics and API-key middlewares, so those still apply
to every request it answers.
"""

from __future__ import annotations

import anyio
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from sangraha_core import Backends, SangrahaError, if_none_match_matches
from sangraha_core.access import ANYONE, Action, Principal

from .cache import MAX_CACHED_BLOB, CachedKey, ReadCache
from .content import get_object, head_object, latest_record, small_blob
from .content import router as content_router

__all__ = ["LOOKUP_THREADS", "ReadFastPath"]

#: Threads that look keys up and read blobs for the fast path at once. Fewer than the
#: metadata store's pooled connections (10 for SQLite), whose overflow connections are
#: opened and closed per use; and the lookups are mostly CPU under the GIL, so more threads
#: only take it from the event loop (4 beat 2 and 8 in cold-read runs on 2 cores).
LOOKUP_THREADS = 4

_PREFIX = "/v1/buckets/"
# Headers whose presence needs the full planner (ranges, dates); the fast path leaves them
# to it, so a range or date it could misread never gets an answer the route would not give.
_PLANNER_HEADERS = frozenset({b"range", b"if-range", b"if-modified-since"})


def _route_of(endpoint: object) -> APIRoute:
    for route in content_router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
    raise LookupError(f"no content route for {endpoint!r}")


class ReadFastPath:
    """ASGI middleware: plain ``GET``/``HEAD`` of a cached key, answered from the cache.

    The cache is the app's ``state.read_cache``; without one, or one that does not cache
    records by key, every request goes on to the app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._get = _route_of(get_object)
        self._head = _route_of(head_object)
        # The route's own pattern, so a path matches here exactly when it would there.
        self._pattern = self._get.path_regex
        self._threads = anyio.CapacityLimiter(LOOKUP_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["query_string"]
            or scope.get("root_path")
            or not scope["path"].startswith(_PREFIX)
            or not await self._answer(scope, send)
        ):
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> bool:
        """Send the answer and return True, or return False having sent nothing."""
        method = scope["method"]
        if method == "GET":
            route = self._get
        elif method == "HEAD":
            route = self._head
        else:
            return False
        match = self._pattern.match(scope["path"])
        if match is None:
            return False
        state = scope["app"].state
        cache: ReadCache | None = getattr(state, "read_cache", None)
        if cache is None or not cache.caches_keys:
            return False
        if_none_match: bytes | None = None
        for name, value in scope["headers"]:
            if name in _PLANNER_HEADERS:
                return False
            if name == b"if-none-match" and if_none_match is None:
                if_none_match = value
        bucket, key = match["bucket"], match["key"]
        principal: Principal = scope.get("state", {}).get("principal", ANYONE)
        if not principal.allows(Action.READ, bucket):
            return False  # the route answers the refusal
        entry = cache.cached_key(bucket, key)
        if entry is None:
            entry = await _resolve(cache, state.backends, bucket, key, self._threads)
            if entry is None:
                return False
        if if_none_match is not None and if_none_match_matches(
            if_none_match.decode("latin-1"), entry.etag
        ):
            status, headers, body = 304, entry.not_modified_headers, b""
        else:
            status, headers = 200, entry.ok_headers
            size = entry.record.size
            if method == "HEAD" or size == 0:
                body = b""
            elif size > MAX_CACHED_BLOB:
                return False
            else:
                try:
                    found = await small_blob(
                        cache, state.backends.blobs, entry.record.digest, self._threads
                    )
                except SangrahaError:
                    return False  # the route answers it
                # As the route slices it, should the store hold more than the record says.
                body = found[:size]
        # Metrics name the request by its route template, as for a routed request.
        scope["route"] = route
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
        return True


# A failed lookup is left to the route, which looks again and answers with its problem
# details: errors are rare, so answering them twice costs little, and only the route's
# exception handlers turn them into the right answer.


async def _resolve(
    cache: ReadCache, backends: Backends, bucket: str, key: str, threads: anyio.CapacityLimiter
) -> CachedKey | None:
    """Look the key up as the content route does, keeping what it reads; ``None`` when
    the route must answer (an error, or a change raced the lookup)."""
    try:
        _, entry = await latest_record(cache, backends.metadata, bucket, key, threads)
    except SangrahaError:
        return None
    return entry
