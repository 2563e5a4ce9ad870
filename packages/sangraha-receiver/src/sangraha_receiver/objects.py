"""Object routes: upload a version (``PUT`` with a key, ``POST`` for a generated one), delete.

Routes parse and answer; ``sangraha_core.Ingest`` does the work, in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from sangraha_core import CONTENT_TYPES, Ingest, ObjectRecord, ObjectStatus, ProblemType
from sangraha_core.access import Action
from sangraha_core.web import BodyReader, backends_of, problem_doc, problem_of, require
from sangraha_core.wire import SHA256_HEADER

from .headers import UploadHeaders, check_content_length, parse_upload_headers

__all__ = [
    "MAX_WAIT",
    "WHOLE_BODY_LIMIT",
    "accept_upload",
    "accepted_response",
    "answer_accepted",
    "build_router",
    "disconnected",
]

#: The longest ``?wait=`` a client may ask for, in seconds.
MAX_WAIT = 60.0


#: Bodies up to this size are read whole on the event loop and accepted in one thread call;
#: larger ones stream through the thread block by block, so their memory stays flat.
WHOLE_BODY_LIMIT = 256 * 1024

_UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The object's bytes, streamed; the Content-Type names its kind.",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in CONTENT_TYPES
        },
    }
}
_UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ObjectRecord, "description": "Processed within `wait` (ready or failed)."},
    202: {"model": ObjectRecord, "description": "Accepted; processing is queued."},
    400: problem_doc("Invalid name, metadata, header or checksum."),
    413: problem_doc("Larger than the configured limit."),
    415: problem_doc("Content-Type names no supported kind."),
    503: problem_doc("A backend is unavailable; retry after `Retry-After`."),
}

WaitParam = Annotated[
    float,
    Query(ge=0, le=MAX_WAIT, description="Seconds to wait for processing before answering."),
]
# Declared for the schema only; the values are read (and checked) by ``headers.py``.
ContentDigestHeader = Annotated[
    str | None, Header(description="RFC 9530, e.g. `sha-256=:<base64>:`.")
]
Sha256Header = Annotated[
    str | None, Header(alias=SHA256_HEADER, description="The body's SHA-256 in hex.")
]
IdempotencyHeader = Annotated[
    str | None, Header(description="Makes retries safe: up to 255 printable characters.")
]


def build_router() -> APIRouter:
    """The receiver's object routes, for its own app or an app that also serves reads."""
    router = APIRouter(tags=["objects"])

    @router.put(
        "/v1/buckets/{bucket}/objects/{key:objectkey}",
        status_code=202,
        response_model=None,
        responses=_UPLOAD_RESPONSES,
        openapi_extra=_UPLOAD_OPENAPI,
        summary="Upload a new version of an object",
    )
    async def put_object(
        request: Request,
        bucket: str,
        key: str,
        wait: WaitParam = 0.0,
        content_digest: ContentDigestHeader = None,
        x_sangraha_sha256: Sha256Header = None,
        idempotency_key: IdempotencyHeader = None,
    ) -> Response:
        return await _upload(request, bucket, key, wait)

    @router.post(
        "/v1/buckets/{bucket}/objects",
        status_code=202,
        response_model=None,
        responses=_UPLOAD_RESPONSES,
        openapi_extra=_UPLOAD_OPENAPI,
        summary="Upload an object under a generated key",
    )
    async def post_object(
        request: Request,
        bucket: str,
        wait: WaitParam = 0.0,
        content_digest: ContentDigestHeader = None,
        x_sangraha_sha256: Sha256Header = None,
        idempotency_key: IdempotencyHeader = None,
    ) -> Response:
        return await _upload(request, bucket, None, wait)

    @router.delete(
        "/v1/buckets/{bucket}/objects/{key:objectkey}",
        status_code=204,
        response_class=Response,
        responses={404: problem_doc("No such object or version.")},
        summary="Delete every version of an object, or one",
    )
    async def delete_object(
        request: Request,
        bucket: str,
        key: str,
        version: Annotated[str | None, Query(description="Delete only this version id.")] = None,
    ) -> Response:
        require(request, Action.DELETE, bucket)
        ingest = Ingest(backends_of(request))
        await anyio.to_thread.run_sync(partial(ingest.delete, bucket, key, version))
        return Response(status_code=204)

    return router


async def _upload(request: Request, bucket: str, key: str | None, wait: float) -> Response:
    require(request, Action.WRITE, bucket)
    ingest = Ingest(backends_of(request))
    declared_length = check_content_length(
        request.headers.get("content-length"), ingest.backends.settings.max_object_size
    )
    parsed = parse_upload_headers(request.headers)
    reader = BodyReader(request.stream())
    try:
        chunks: Iterable[bytes] = reader.blocks()
        if declared_length is not None and declared_length <= WHOLE_BODY_LIMIT:
            # Read here on the loop: the thread then runs without hopping back for blocks.
            chunks = await reader.read_all()
        record = await accept_upload(ingest, bucket, key, parsed, chunks)
    except ClientDisconnect:
        return disconnected(request.url.path)
    return await answer_accepted(ingest, record, wait)


async def accept_upload(
    ingest: Ingest, bucket: str, key: str | None, parsed: UploadHeaders, chunks: Iterable[bytes]
) -> ObjectRecord:
    """Store and queue the upload in a worker thread; its record once it is durable."""
    accept = partial(
        ingest.accept,
        bucket,
        key,
        parsed.content_type,
        chunks,
        declared_digest=parsed.declared_digest,
        metadata=parsed.metadata,
        idempotency_key=parsed.idempotency_key,
    )
    return await anyio.to_thread.run_sync(accept)


def disconnected(path: str) -> Response:
    """The answer to an upload whose client went away before the body was complete."""
    # Nobody is listening; the store dropped the partial write. Answer for the logs.
    return problem_of(
        ProblemType.INVALID_REQUEST,
        "the client went away before the body was complete",
        instance=path,
    )


async def answer_accepted(ingest: Ingest, record: ObjectRecord, wait: float) -> Response:
    """202 with the queued record; with ``wait``, 200 once processing finished in time."""
    status = 202
    if wait > 0:
        record = await anyio.to_thread.run_sync(partial(ingest.wait, record, wait))
        if record.status is not ObjectStatus.PENDING:
            status = 200
    return accepted_response(record, status)


def accepted_response(record: ObjectRecord, status: int = 202) -> Response:
    """The record as JSON, with its ``Location``."""
    return JSONResponse(
        record.model_dump(mode="json"),
        status_code=status,
        headers={"Location": f"/v1/objects/{record.id}"},
    )
