"""Upload session routes: open, send parts in any order, resume, complete, abort.

Routes parse and answer; ``sangraha_core.Uploads`` does the work, in a worker thread.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from sangraha_core import (
    MAX_PARTS,
    Digest,
    Ingest,
    ObjectRecord,
    PartRecord,
    ProblemType,
    Uploads,
    UploadSession,
)
from sangraha_core.access import Action
from sangraha_core.web import (
    BodyReader,
    backends_of,
    principal_of,
    problem_doc,
    problem_of,
    require,
    requires,
)

from .headers import check_content_length, declared_digest
from .objects import MAX_WAIT, answer_accepted

__all__ = ["OpenUpload", "build_router"]


class OpenUpload(BaseModel):
    """What a client says when it opens an upload session."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="The object's key; it may contain '/'.")
    content_type: str = Field(description="Names the kind, as for a single PUT.")
    size: int | None = Field(default=None, ge=0, description="Total bytes, checked at complete.")
    digest: Digest | None = Field(
        default=None, description="`sha256:<hex>` of the whole object, checked at complete."
    )
    metadata: dict[str, str] = Field(default_factory=dict, description="User metadata.")


class CompleteUpload(BaseModel):
    """The optional body of ``complete``."""

    model_config = ConfigDict(extra="forbid")

    digest: Digest | None = Field(
        default=None,
        description="`sha256:<hex>` of the whole object, if not declared when the session "
        "opened (a client can hash its file while the parts go up).",
    )


def _session_json(session: UploadSession, status: int = 200) -> JSONResponse:
    return JSONResponse(
        session.model_dump(mode="json"),
        status_code=status,
        headers={"Location": f"/v1/uploads/{session.id}"},
    )


async def _check_session(request: Request, upload_id: str) -> None:
    """403 unless the request's key may write to the session's bucket."""
    if principal_of(request).unrestricted:
        return  # skip the read: everyone may
    metadata = backends_of(request).metadata
    session = await anyio.to_thread.run_sync(metadata.get_upload, upload_id)
    require(request, Action.WRITE, session.bucket)


def build_router() -> APIRouter:
    """The upload session routes, for the receiver's app or the embedded one."""
    router = APIRouter(tags=["uploads"])

    @router.post(
        "/v1/buckets/{bucket}/uploads",
        status_code=201,
        response_model=UploadSession,
        responses={400: problem_doc("Invalid name, type or metadata.")},
        dependencies=[requires(Action.WRITE)],
        summary="Open a chunked upload session",
    )
    async def open_upload(request: Request, bucket: str, body: OpenUpload) -> Response:
        uploads = Uploads(backends_of(request))
        session = await anyio.to_thread.run_sync(
            partial(
                uploads.open,
                bucket,
                body.key,
                body.content_type,
                size=body.size,
                digest=body.digest,
                metadata=body.metadata,
            )
        )
        return _session_json(session, 201)

    @router.put(
        "/v1/uploads/{upload_id}/parts/{number}",
        response_model=PartRecord,
        responses={
            400: problem_doc("Bad part number or checksum."),
            404: problem_doc("No such open session."),
            413: problem_doc("Part larger than the session allows."),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        },
        summary="Send one part; sending a number again replaces it",
    )
    async def put_part(
        request: Request,
        upload_id: str,
        number: Annotated[int, Path(ge=1, le=MAX_PARTS)],
    ) -> Response:
        await _check_session(request, upload_id)
        uploads = Uploads(backends_of(request))
        size = check_content_length(request.headers.get("content-length"), uploads.max_part_size)
        digest = declared_digest(request.headers)
        reader = BodyReader(request.stream())
        try:
            part = await anyio.to_thread.run_sync(
                partial(
                    uploads.put_part,
                    upload_id,
                    number,
                    reader.blocks(),
                    declared_digest=digest,
                    size=size,
                )
            )
        except ClientDisconnect:
            return problem_of(
                ProblemType.INVALID_REQUEST,
                "the client went away before the part was complete",
                instance=request.url.path,
            )
        return JSONResponse(part.model_dump(mode="json"))

    @router.get(
        "/v1/uploads/{upload_id}",
        response_model=UploadSession,
        responses={404: problem_doc("No such session.")},
        summary="The session and the parts received so far (to resume)",
    )
    async def get_upload(request: Request, upload_id: str) -> Response:
        await _check_session(request, upload_id)
        uploads = Uploads(backends_of(request))
        session = await anyio.to_thread.run_sync(uploads.get, upload_id)
        return _session_json(session)

    @router.post(
        "/v1/uploads/{upload_id}/complete",
        status_code=202,
        response_model=ObjectRecord,
        responses={
            400: problem_doc("Checksum mismatch or undersized part."),
            409: problem_doc("Parts missing or session not open."),
        },
        summary="Assemble the parts and queue the object for processing",
    )
    async def complete_upload(
        request: Request,
        upload_id: str,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
        body: CompleteUpload | None = None,
    ) -> Response:
        await _check_session(request, upload_id)
        backends = backends_of(request)
        digest = body.digest if body is not None else None
        record = await anyio.to_thread.run_sync(
            partial(Uploads(backends).complete, upload_id, digest=digest)
        )
        return await answer_accepted(Ingest(backends), record, wait)

    @router.delete(
        "/v1/uploads/{upload_id}",
        status_code=204,
        response_class=Response,
        responses={404: problem_doc("No such session.")},
        summary="Abort the session and drop its parts",
    )
    async def abort_upload(request: Request, upload_id: str) -> Response:
        await _check_session(request, upload_id)
        await anyio.to_thread.run_sync(Uploads(backends_of(request)).abort, upload_id)
        return Response(status_code=204)

    return router
