"""Record routes: one version's record, the newest record of a key, and listing/search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sangraha_core import (
    CACHE_REVALIDATE,
    ListQuery,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    Page,
    meta_filters,
    resolve_by_id,
    resolve_newest,
    validate_bucket,
    validate_prefix,
    validate_time_bound,
)
from sangraha_core.access import Action
from sangraha_core.web import backends_of, problem_doc, require

__all__ = ["router"]

router = APIRouter(tags=["records"])

_RECORD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_doc("Invalid bucket name, key or parameter"),
    404: problem_doc("No such object or version"),
}


def _record_response(record: ObjectRecord) -> Response:
    # A record's status moves on (pending -> ready), so caches must ask again.
    return JSONResponse(record.model_dump(mode="json"), headers={"Cache-Control": CACHE_REVALIDATE})


@router.get(
    "/v1/buckets/{bucket}/metadata/{key:objectkey}",
    response_model=ObjectRecord,
    responses=_RECORD_RESPONSES,
    summary="The record of the newest version of a key, whatever its status",
    description="Poll this to follow a pending upload. `?version=` names another version.",
)
async def get_metadata(
    request: Request, bucket: str, key: str, version: str | None = None
) -> Response:
    require(request, Action.READ, bucket)
    metadata = backends_of(request).metadata
    record = await run_in_threadpool(resolve_newest, metadata, bucket, key, version)
    return _record_response(record)


@router.get(
    "/v1/objects/{object_id}",
    response_model=ObjectRecord,
    responses=_RECORD_RESPONSES,
    summary="The record of one version, by id",
)
async def get_record(request: Request, object_id: str) -> Response:
    metadata = backends_of(request).metadata
    record = await run_in_threadpool(resolve_by_id, metadata, object_id)
    require(request, Action.READ, record.bucket)
    return _record_response(record)


@router.get(
    "/v1/buckets/{bucket}/objects",
    response_model=Page[ObjectRecord],
    responses={400: _RECORD_RESPONSES[400]},
    summary="List and search the objects of a bucket",
    description=(
        "Records in key order, then version id. Filter on user metadata with any number "
        "of `meta.<name>=<value>` parameters (all must match). Pass `next_cursor` back as "
        "`cursor` for the next page; a cursor stays valid while objects are added."
    ),
)
async def list_objects(
    request: Request,
    bucket: str,
    prefix: Annotated[str | None, Query(description="Only keys starting with this")] = None,
    kind: Annotated[ObjectKind | None, Query(description="Only this kind")] = None,
    status: Annotated[ObjectStatus | None, Query(description="Only this status")] = None,
    created_after: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size")] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before")] = None,
    versions: Annotated[
        bool, Query(description="Every version, not only the latest of each key")
    ] = False,
) -> Response:
    require(request, Action.LIST, bucket)
    backends = backends_of(request)
    settings = backends.settings
    query = ListQuery(
        bucket=validate_bucket(bucket),
        prefix=validate_prefix(prefix) if prefix else None,
        kind=kind,
        status=status,
        metadata=meta_filters(
            request.query_params.multi_items(),
            max_entries=settings.max_meta_entries,
            max_bytes=settings.max_meta_bytes,
        ),
        created_after=validate_time_bound("created_after", created_after),
        created_before=validate_time_bound("created_before", created_before),
        latest_only=not versions,
        limit=limit,
        cursor=cursor or None,
    )
    page = await run_in_threadpool(backends.metadata.list_objects, query)
    return JSONResponse(page.model_dump(mode="json"), headers={"Cache-Control": CACHE_REVALIDATE})
