"""Accept small uploads by key before FastAPI routing.

``PUT /v1/buckets/{bucket}/objects/{key}`` without a query string and with a
``Content-Length`` of at most :data:`~sangraha_receiver.objects.WHOLE_BODY_LIMIT` is the hot
write. :class:`WriteFastPath` takes it as the upload route does, skipping routing, dependency
handling and response building: the same grant check, the same header parsers, the body read
whole on the event loop, ``Ingest.accept`` in one worker thread, and the same 202 record with
its ``Location``, sent only once ``accept`` returned (bytes durable, record committed, job
published).

What it takes is decided before it reads a byte of the body, which cannot be read twice:
a request it does not take (another route or method, a query string such as ``?wait=``, no
or a large ``Content-Length``, a missing grant, a header the parsers refuse) goes on to the
app, which answers it, errors included, exactly as before. Once it has taken the body, it
answers the errors itself with the route's own problem details.

It must sit inside the request-id, metrics and API-key middlewares, so those still apply
to every request it answers.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.datastructures import URL, Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from sangraha_core import Ingest, SangrahaError
from sangraha_core.access import ANYONE, Action, Principal
from sangraha_core.web import problem_for

from .headers import UploadHeaders, check_content_length, parse_upload_headers
from .objects import WHOLE_BODY_LIMIT, accept_upload, accepted_response, build_router, disconnected

__all__ = ["WriteFastPath"]

_PREFIX = "/v1/buckets/"


def _put_route() -> APIRoute:
    for route in build_router().routes:
        if isinstance(route, APIRoute) and route.name == "put_object":
            return route
    raise LookupError("no put_object route")


class WriteFastPath:
    """ASGI middleware: a plain small ``PUT`` of an object, accepted without routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route = _put_route()
        # The route's own pattern, so a path matches here exactly when it would there.
        self._pattern = self._route.path_regex

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "PUT"
            or scope["query_string"]
            or scope.get("root_path")
            or not scope["path"].startswith(_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        taken = self._take(scope)
        if taken is None:
            await self.app(scope, receive, send)
            return
        await self._accept(scope, receive, send, *taken)

    def _take(self, scope: Scope) -> tuple[Ingest, str, str, UploadHeaders] | None:
        """What the upload is, if this path takes it; ``None`` leaves it to the route.

        Every check the route makes before it reads the body, in its order; any that fails
        leaves the request to the route, which makes it again and answers the refusal.
        """
        match = self._pattern.match(scope["path"])
        if match is None:
            return None
        bucket, key = match["bucket"], match["key"]
        principal: Principal = scope.get("state", {}).get("principal", ANYONE)
        if not principal.allows(Action.WRITE, bucket):
            return None
        ingest = Ingest(scope["app"].state.backends)
        headers = Headers(scope=scope)
        try:
            length = check_content_length(
                headers.get("content-length"), ingest.backends.settings.max_object_size
            )
            if length is None or length > WHOLE_BODY_LIMIT:
                return None  # streamed through the thread by the route
            parsed = parse_upload_headers(headers)
        except SangrahaError:
            return None
        return ingest, bucket, key, parsed

    async def _accept(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ingest: Ingest,
        bucket: str,
        key: str,
        parsed: UploadHeaders,
    ) -> None:
        # Metrics name the request by its route template, as for a routed request.
        scope["route"] = self._route
        try:
            chunks = await _read_body(receive)
            record = await accept_upload(ingest, bucket, key, parsed, chunks)
        except ClientDisconnect:
            answer = disconnected(URL(scope=scope).path)
        except SangrahaError as error:
            # The route's ``instance``: the path as ``Request.url`` parses it.
            answer = problem_for(error, instance=URL(scope=scope).path)
        else:
            answer = accepted_response(record)
        # Any other error goes on to the app's outermost handler, as the route's would.
        await answer(scope, receive, send)


async def _read_body(receive: Receive) -> list[bytes]:
    """The whole body, as the pieces the server received; as ``Request.stream`` does, a
    client that goes away raises ``ClientDisconnect``."""
    pieces: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        body: bytes = message.get("body", b"")
        if body:
            pieces.append(body)
        if not message.get("more_body", False):
            return pieces
