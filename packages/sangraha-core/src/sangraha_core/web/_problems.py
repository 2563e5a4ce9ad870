"""RFC 9457 problem details: every core error maps to exactly one status and type.

The statuses, slugs and titles are :class:`~sangraha_core.wire.ProblemType`'s; this module
only turns an entry into an answer.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from .. import _exceptions as exc
from .._constants import RETRY_AFTER_SECONDS
from ..wire import PROBLEM_BASE, PROBLEM_MEDIA_TYPE, ProblemType
from ._observability import UNAVAILABLE

__all__ = [
    "PROBLEM_BASE",
    "install_problem_handlers",
    "problem_doc",
    "problem_for",
    "problem_of",
    "problem_response",
]

logger = logging.getLogger("sangraha.web")


def _backend_name(error: exc.BackendUnavailableError) -> str:
    if isinstance(error, exc.QueueUnavailableError):
        return "queue"
    if isinstance(error, exc.MetadataUnavailableError):
        return "metadata"
    if isinstance(error, exc.BlobStoreUnavailableError):
        return "blobs"
    return "other"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    all_headers = dict(headers or {})
    if any(e.retry_after and e.status == status and e.slug == slug for e in ProblemType):
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return JSONResponse(
        body, status_code=status, headers=all_headers, media_type=PROBLEM_MEDIA_TYPE
    )


def problem_of(
    problem: ProblemType,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> Response:
    """The answer for one catalogue entry, with its status, slug and title."""
    return problem_response(
        problem.status,
        problem.slug,
        problem.title,
        detail,
        headers=headers,
        instance=instance,
        **extra,
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for an answer that is a problem."""
    return {"description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


def problem_for(error: BaseException, *, instance: str | None = None) -> Response:
    """The one answer for a core error."""
    problem = ProblemType.of_error(error)
    if problem is None:
        logger.exception("unhandled error", exc_info=error)
        return problem_of(
            ProblemType.INTERNAL, "the server failed; the error is logged", instance=instance
        )
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, exc.ChecksumMismatchError):
        extra = {"expected": error.expected, "actual": error.actual}
    elif isinstance(error, exc.ObjectTooLargeError):
        extra = {"limit": error.limit}
    elif isinstance(error, exc.RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    elif isinstance(error, exc.UnauthenticatedError):
        headers["WWW-Authenticate"] = 'Bearer realm="sangraha"'
    elif isinstance(error, exc.InvalidRangeError):
        headers["Content-Range"] = f"bytes */{error.size}"
    elif isinstance(error, exc.BackendUnavailableError):
        logger.warning("backend unavailable: %s", error)
        UNAVAILABLE.labels(_backend_name(error)).inc()
    return problem_of(
        problem, str(error) or problem.title, headers=headers, instance=instance, **extra
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_core_error(request: Request, error: Exception) -> Response:
        return problem_for(error, instance=request.url.path)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        problem = ProblemType.of_status(error.status_code)
        # A status the catalogue has no entry for keeps it, under the generic slug.
        slug, title = (problem.slug, problem.title) if problem is not None else ("error", "Error")
        return problem_response(
            error.status_code,
            slug,
            title,
            str(error.detail),
            headers=dict(error.headers or {}),
            instance=request.url.path,
        )

    async def on_validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        parts = []
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return problem_of(ProblemType.INVALID_REQUEST, "; ".join(parts), instance=request.url.path)

    async def on_unexpected(request: Request, error: Exception) -> Response:
        return problem_for(error, instance=request.url.path)

    app.add_exception_handler(exc.SangrahaError, on_core_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
