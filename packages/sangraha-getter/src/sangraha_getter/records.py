"""Record routes: one version's record, the newest record of a key, and listing/search.

A listing with ``delimiter`` rolls keys up into folders (``sangraha_core.list_tree``, S3's
ListObjects): its page carries ``prefixes`` beside ``items``, and its cursor is the last
key or folder listed. Folders are a view of keys, not a search, so it takes no filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sangraha_core import (
    CACHE_REVALIDATE,
    InvalidRequestError,
    ListQuery,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    Page,
    list_tree,
    meta_filters,
    resolve_by_id,
    resolve_newest,
    validate_bucket,
    validate_prefix,
    validate_time_bound,
)
from sangraha_core.access import Action
from sangraha_core.metadata import MetadataStore
from sangraha_core.web import backends_of, problem_doc, require

__all__ = ["MAX_DELIMITER_LENGTH", "ListingPage", "router"]

#: A delimiter is a separator such as ``/``, not a second prefix.
MAX_DELIMITER_LENGTH = 16


class ListingPage(Page[ObjectRecord]):
    """A listing's page: records, and with ``delimiter`` the folders beside them."""

    prefixes: list[str] = Field(default_factory=list)
    """With ``delimiter``: each common prefix (a folder, ending in the delimiter) once, in
    key order; empty otherwise."""


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
    response_model=ListingPage,
    responses={400: _RECORD_RESPONSES[400]},
    summary="List and search the objects of a bucket",
    description=(
        "Records in key order, then version id. Filter on user metadata with any number "
        "of `meta.<name>=<value>` parameters (all must match). Pass `next_cursor` back as "
        "`cursor` for the next page; a cursor stays valid while objects are added. "
        "With `delimiter` (say `/`), keys are rolled up into folders: `prefixes` lists each "
        "common prefix once, `items` the newest version of each key directly under "
        "`prefix`, whatever its status; no other filter applies then."
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
    delimiter: Annotated[
        str | None,
        Query(
            max_length=MAX_DELIMITER_LENGTH,
            description="Roll keys up into folders at this separator (`prefixes`)",
        ),
    ] = None,
) -> Response:
    require(request, Action.LIST, bucket)
    backends = backends_of(request)
    settings = backends.settings
    metadata = meta_filters(
        request.query_params.multi_items(),
        max_entries=settings.max_meta_entries,
        max_bytes=settings.max_meta_bytes,
    )
    if delimiter:
        filters = kind or status or metadata or created_after or created_before or versions
        if filters:
            raise InvalidRequestError(
                "a listing with delimiter takes only prefix, limit and cursor: search "
                "(kind, status, meta.*, created_*, versions) lists flat"
            )
        tree = await run_in_threadpool(
            list_tree,
            backends.metadata,
            validate_bucket(bucket),
            prefix=validate_prefix(prefix) if prefix else "",
            delimiter=delimiter,
            start_after=validate_prefix(cursor) if cursor else None,
            limit=limit,
            # Like the flat listing: each key's newest version, pending and failed too.
            status=None,
        )
        folders = ListingPage(
            items=tree.entries,
            next_cursor=tree.next_marker if tree.is_truncated else None,
            prefixes=tree.common_prefixes,
        )
        if not (folders.items or folders.prefixes or cursor):
            await _require_bucket(backends.metadata, bucket)
        return JSONResponse(
            folders.model_dump(mode="json"), headers={"Cache-Control": CACHE_REVALIDATE}
        )
    query = ListQuery(
        bucket=validate_bucket(bucket),
        prefix=validate_prefix(prefix) if prefix else None,
        kind=kind,
        status=status,
        metadata=metadata,
        created_after=validate_time_bound("created_after", created_after),
        created_before=validate_time_bound("created_before", created_before),
        latest_only=not versions,
        limit=limit,
        cursor=cursor or None,
    )
    page = await run_in_threadpool(backends.metadata.list_objects, query)
    if not (page.items or cursor):
        await _require_bucket(backends.metadata, bucket)
    flat = ListingPage(items=page.items, next_cursor=page.next_cursor)
    return JSONResponse(flat.model_dump(mode="json"), headers={"Cache-Control": CACHE_REVALIDATE})


async def _require_bucket(metadata: MetadataStore, bucket: str) -> None:
    """404 for a listing of a bucket that does not exist, rather than an empty page a typo
    would hide behind; asked only when a first page is empty, so listings cost no more."""
    await run_in_threadpool(metadata.get_bucket, bucket)
