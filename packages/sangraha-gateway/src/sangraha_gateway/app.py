"""The gateway application: S3 path-style on every path, probes under ``/_sangraha``.

A bucket name cannot start with ``_``, so ``/_sangraha/healthz``, ``/_sangraha/readyz``
and ``/_sangraha/metrics`` never collide with a bucket. Every other request is an S3
operation (see ``_dispatch``); every refusal, the key check's included, is S3's XML.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sangraha_core import Backends, SangrahaError, Settings, __version__
from sangraha_core.web import (
    AccessMiddleware,
    HardeningMiddleware,
    ObservabilityMiddleware,
    backends_lifespan,
    backends_of,
    health_router,
    metrics_endpoint,
    request_id,
    run_service,
)

from ._call import S3Call, split_path
from ._dispatch import resolve
from ._errors import S3Error, error_response, s3_error_of

__all__ = ["DEFAULT_PORT", "PROBE_PREFIX", "create_app", "main"]

logger = logging.getLogger("sangraha.gateway")

DEFAULT_PORT = 9000
#: Where the probes and metrics live: no bucket name can start with ``_``.
PROBE_PREFIX = "/_sangraha"
_OPEN_PATHS = frozenset(f"{PROBE_PREFIX}/{name}" for name in ("healthz", "readyz", "metrics"))
#: Every method is routed to S3's dispatch, so one S3 does not serve (OPTIONS, PATCH...)
#: is S3's MethodNotAllowed rather than the framework's JSON 405.
_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"]


@dataclass(frozen=True)
class _Operation:
    """Stands in for a route on the scope, so metrics count each S3 operation apart."""

    path: str


def _refusal(error: SangrahaError, scope: Scope) -> Response:
    return error_response(
        s3_error_of(error), request_id=request_id.get(), head=scope["method"] == "HEAD"
    )


class _Utf8Refusal:
    """Answers a path or query string that is not UTF-8 in S3's words, before the
    framework's own refusal (a problem document no S3 client reads) can."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = _not_utf8(scope)
            if error is not None:
                answer = error_response(
                    error, request_id=request_id.get(), head=scope["method"] == "HEAD"
                )
                answer.headers["X-Content-Type-Options"] = "nosniff"
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _not_utf8(scope: Scope) -> S3Error | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    if not _utf8(raw_path.partition(b"?")[0]):
        return S3Error("InvalidURI", "the path is not UTF-8 once percent-decoded")
    if not _utf8(scope.get("query_string", b"")):
        return S3Error("InvalidArgument", "the query string is not UTF-8 once percent-decoded")
    return None


def _utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _s3(request: Request) -> Response:
    answer = await _answer(request)
    # S3 names every answer by its request id, successes too: boto3 reports it as
    # ResponseMetadata's RequestId, the AWS CLI's --debug and s3cmd -d log it.
    answer.headers.setdefault("x-amz-request-id", request_id.get())
    return answer


async def _answer(request: Request) -> Response:
    rid = request_id.get()
    head = request.method == "HEAD"
    try:
        bucket, key = split_path(request.scope.get("raw_path") or request.url.path.encode())
        call = S3Call(request, bucket, key, backends_of(request), rid)
        name, operation = resolve(call)
        request.scope["route"] = _Operation(f"S3 {name}")
        return await operation(call)
    except UnicodeDecodeError:
        error = S3Error("InvalidURI", "the path is not UTF-8 once percent-decoded")
        return error_response(error, request_id=rid, head=head)
    except ClientDisconnect:
        error = S3Error("IncompleteBody", "the client went away before the body was complete")
        return error_response(error, request_id=rid, head=head)
    except Exception as raised:
        answer = s3_error_of(raised)
        if answer.code == "InternalError":
            logger.exception("S3 %s %s failed", request.method, request.url.path)
            answer = S3Error("InternalError", "the server failed; the error is logged")
        return error_response(answer, request_id=rid, head=head)


async def _unrouted(request: Request, error: Exception) -> Response:
    """The framework's own refusals, in S3's words. A path no route pattern matches (one
    holding a newline) still goes to the dispatch, which answers for it; a method no
    route takes is ``MethodNotAllowed``."""
    if "endpoint" not in request.scope:
        return await _s3(request)
    status = getattr(error, "status_code", 400)
    answer = S3Error(
        "MethodNotAllowed" if status == 405 else "InvalidRequest",
        f"{request.method} is not an operation here" if status == 405 else str(error),
    )
    return error_response(answer, request_id=request_id.get(), head=request.method == "HEAD")


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """The S3 gateway as an ASGI app.

    :param settings: where the backends are; read from ``SANGRAHA_*`` when left out.
    :param backends: backends already open (the embedded server, tests), which stay the
        caller's to close; otherwise the app opens its own at startup and closes them.
    """
    if settings is None:
        settings = backends.settings if backends is not None else Settings()

    app = FastAPI(
        title="Sangraha S3 gateway",
        version=__version__,
        lifespan=backends_lifespan(settings, backends),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    if backends is not None:
        app.state.backends = backends
    app.include_router(health_router(backends_of), prefix=PROBE_PREFIX)
    app.add_route(f"{PROBE_PREFIX}/metrics", metrics_endpoint, include_in_schema=False)
    app.add_route("/", _s3, methods=_METHODS, include_in_schema=False)
    app.add_route("/{path:path}", _s3, methods=_METHODS, include_in_schema=False)
    app.add_exception_handler(StarletteHTTPException, _unrouted)
    app.add_middleware(
        AccessMiddleware,
        settings=settings,
        open_paths=_OPEN_PATHS,
        refuse=_refusal,
        declare_payload=False,
        allow_streaming=True,
    )
    app.add_middleware(HardeningMiddleware)
    app.add_middleware(_Utf8Refusal)
    app.add_middleware(ObservabilityMiddleware, service="gateway")
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """``sangraha-gateway [--host H] [--port P]``; backends come from ``SANGRAHA_*``."""
    run_service(
        argv,
        prog="sangraha-gateway",
        description="Sangraha's S3 gateway: the S3 API, path-style, over the backends the "
        "SANGRAHA_* environment names.",
        default_port=DEFAULT_PORT,
        create_app=create_app,
    )
