"""Bucket routes of the read service: the buckets a key may list, and one bucket's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sangraha_core import CACHE_REVALIDATE, Bucket, BucketSummary, validate_bucket
from sangraha_core.access import Action
from sangraha_core.web import backends_of, principal_of, problem_doc, require

__all__ = ["router"]

router = APIRouter(tags=["buckets"])

_BUCKET_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_doc("Invalid bucket name"),
    404: problem_doc("No such bucket"),
}


@router.get(
    "/v1/buckets",
    response_model=list[BucketSummary],
    summary="The buckets this key may list, by name, with what each holds",
    description=(
        "Each bucket's kind policy, its number of keys and the bytes of all its versions. "
        "A key sees only the buckets it holds `list` on; a key with none gets `[]`."
    ),
)
async def list_buckets(request: Request) -> Response:
    principal = principal_of(request)
    found = await run_in_threadpool(backends_of(request).metadata.list_buckets)
    shown = [b.model_dump(mode="json") for b in found if principal.allows(Action.LIST, b.name)]
    return JSONResponse(shown, headers={"Cache-Control": CACHE_REVALIDATE})


@router.get(
    "/v1/buckets/{bucket}",
    response_model=Bucket,
    responses=_BUCKET_RESPONSES,
    summary="One bucket: its kind policy and when it was made",
)
async def get_bucket(request: Request, bucket: str) -> Response:
    require(request, Action.LIST, bucket)
    validate_bucket(bucket)
    found = await run_in_threadpool(backends_of(request).metadata.get_bucket, bucket)
    return JSONResponse(found.model_dump(mode="json"), headers={"Cache-Control": CACHE_REVALIDATE})
