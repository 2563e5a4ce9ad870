"""RFC 9457 problem details: every core error maps to exactly one status and type."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from .. import _exceptions as exc
from .._constants import RETRY_AFTER_SECONDS
from ._observability import UNAVAILABLE

__all__ = ["PROBLEM_BASE", "install_problem_handlers", "problem_for", "problem_response"]

logger = logging.getLogger("sangraha.web")

PROBLEM_BASE = "https://sangraha.dev/problems/"

# Most specific first: the first class an error is an instance of decides its answer.
_MAP: list[tuple[type[BaseException], int, str, str]] = [
    (exc.ObjectPendingError, 409, "pending", "Object is still being processed"),
    (exc.UploadNotFoundError, 404, "upload-not-found", "Upload session not found"),
    (exc.NotFoundError, 404, "not-found", "Not found"),
    (exc.BlobExistsError, 409, "conflict", "Already exists"),
    (exc.UploadStateError, 409, "upload-state", "Upload session cannot do that now"),
    (exc.InvalidNameError, 400, "invalid-name", "Invalid bucket name or key"),
    (exc.InvalidMetadataError, 400, "invalid-metadata", "Invalid metadata"),
    (exc.InvalidRangeError, 416, "invalid-range", "Range not satisfiable"),
    (exc.InvalidPartError, 400, "invalid-part", "Invalid part"),
    (exc.UnsupportedContentTypeError, 415, "unsupported-content-type", "Unsupported content type"),
    (exc.ChecksumMismatchError, 400, "checksum-mismatch", "Checksum mismatch"),
    (exc.ObjectTooLargeError, 413, "too-large", "Object too large"),
    # 422, as the IETF Idempotency-Key draft asks of a key reused with another payload.
    (
        exc.IdempotencyKeyReusedError,
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused for a different request",
    ),
    (exc.InvalidRequestError, 400, "invalid-request", "Invalid request"),
    (exc.InvalidContentError, 422, "invalid-content", "Invalid content"),
    (exc.BackendUnavailableError, 503, "unavailable", "Service unavailable"),
]

_HTTP_SLUGS = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    411: ("length-required", "Length required"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-content-type", "Unsupported content type"),
    422: ("invalid-request", "Invalid request"),
}


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
    if status in (409, 503) and slug in ("pending", "unavailable"):
        all_headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    return JSONResponse(
        body, status_code=status, headers=all_headers, media_type="application/problem+json"
    )


def problem_for(error: BaseException, *, instance: str | None = None) -> Response:
    """The one answer for a core error."""
    for cls, status, slug, title in _MAP:
        if isinstance(error, cls):
            extra: dict[str, Any] = {}
            headers: dict[str, str] = {}
            if isinstance(error, exc.ChecksumMismatchError):
                extra = {"expected": error.expected, "actual": error.actual}
            elif isinstance(error, exc.ObjectTooLargeError):
                extra = {"limit": error.limit}
            elif isinstance(error, exc.InvalidRangeError):
                headers["Content-Range"] = f"bytes */{error.size}"
            elif isinstance(error, exc.BackendUnavailableError):
                logger.warning("backend unavailable: %s", error)
                UNAVAILABLE.labels(_backend_name(error)).inc()
            return problem_response(
                status,
                slug,
                title,
                str(error) or title,
                headers=headers,
                instance=instance,
                **extra,
            )
    logger.exception("unhandled error", exc_info=error)
    return problem_response(
        500,
        "internal",
        "Internal server error",
        "the server failed; the error is logged",
        instance=instance,
    )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_core_error(request: Request, error: Exception) -> Response:
        return problem_for(error, instance=request.url.path)

    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        slug, title = _HTTP_SLUGS.get(error.status_code, ("error", "Error"))
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
        return problem_response(
            400, "invalid-request", "Invalid request", "; ".join(parts), instance=request.url.path
        )

    async def on_unexpected(request: Request, error: Exception) -> Response:
        return problem_for(error, instance=request.url.path)

    app.add_exception_handler(exc.SangrahaError, on_core_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
