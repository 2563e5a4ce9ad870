"""Bucket routes of the write service: make a bucket or change its kind policy; delete one.

Both need ``admin`` on the bucket. A change is seen by this process at once and by every
other within ``key_refresh`` seconds (each keeps what it read of a bucket that long).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse, Response

from sangraha_core import (
    Backends,
    Bucket,
    BucketAlreadyExistsError,
    BucketKinds,
    InvalidRequestError,
    validate_bucket,
)
from sangraha_core.access import Action
from sangraha_core.web import backends_of, problem_doc, requires

__all__ = ["BucketPolicy", "build_router", "put_bucket"]


class BucketPolicy(BaseModel):
    """The body of ``PUT /v1/buckets/{bucket}``; every field may be left out."""

    model_config = ConfigDict(extra="forbid")

    kinds: BucketKinds | None = None
    """The policy: ``validated`` or ``any``. Left out, a new bucket gets the server's
    default (``SANGRAHA_BUCKET_KINDS``) and an existing one keeps its own."""


def put_bucket(
    backends: Backends,
    name: str,
    kinds: BucketKinds | None,
    *,
    only_create: bool = False,
    only_change: bool = False,
) -> tuple[Bucket, bool]:
    """Make ``name`` (with ``kinds``, else the default) or set its policy; the bucket as it
    now stands and whether it was made here. Blocks.

    :param only_create: a bucket that exists is a ``BucketAlreadyExistsError``.
    :param only_change: a bucket that does not exist is a ``BucketNotFoundError``.
    """
    validate_bucket(name)
    # Through the cache, so this process's next upload already sees the change.
    buckets = backends.bucket_cache
    if not only_change:
        try:
            return buckets.create(name, kinds or backends.settings.bucket_kinds), True
        except BucketAlreadyExistsError:
            if only_create:
                raise
    if kinds is None:
        return backends.metadata.get_bucket(name), False
    return buckets.set_kinds(name, kinds), False


def _delete_bucket(backends: Backends, name: str) -> None:
    validate_bucket(name)
    backends.bucket_cache.delete(name)


def _star(value: str | None, header: str) -> bool:
    if value is None:
        return False
    if value.strip() != "*":
        raise InvalidRequestError(f"{header} on a bucket may only be '*'")
    return True


IfNoneMatch = Annotated[
    str | None, Header(description="`*`: only make the bucket; 409 if it exists.")
]
IfMatch = Annotated[
    str | None, Header(description="`*`: only change an existing bucket; 404 if none.")
]

_PUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Bucket, "description": "The bucket existed; its policy is as asked."},
    201: {"model": Bucket, "description": "The bucket was made."},
    400: problem_doc("Invalid bucket name or policy."),
    403: problem_doc("The key holds no `admin` grant on the bucket."),
    404: problem_doc("`If-Match: *` and no such bucket."),
    409: problem_doc("`If-None-Match: *` and the bucket exists."),
}


def build_router() -> APIRouter:
    """The bucket routes, for the receiver's app or the embedded one."""
    router = APIRouter(tags=["buckets"])

    @router.put(
        "/v1/buckets/{bucket}",
        status_code=201,
        response_model=Bucket,
        responses=_PUT_RESPONSES,
        dependencies=[requires(Action.ADMIN)],
        summary="Make a bucket, or change its kind policy",
        description=(
            'The body `{"kinds": "any"}` (or `"validated"`) sets the policy; without it a '
            "new bucket gets the server's default and an existing one is left as it is."
        ),
    )
    async def create_or_change_bucket(
        request: Request,
        bucket: str,
        body: BucketPolicy | None = None,
        if_none_match: IfNoneMatch = None,
        if_match: IfMatch = None,
    ) -> Response:
        only_create = _star(if_none_match, "If-None-Match")
        only_change = _star(if_match, "If-Match")
        if only_create and only_change:
            raise InvalidRequestError("give If-None-Match or If-Match, not both")
        found, made = await anyio.to_thread.run_sync(
            partial(
                put_bucket,
                backends_of(request),
                bucket,
                None if body is None else body.kinds,
                only_create=only_create,
                only_change=only_change,
            )
        )
        return JSONResponse(
            found.model_dump(mode="json"),
            status_code=201 if made else 200,
            headers={"Location": f"/v1/buckets/{found.name}"} if made else None,
        )

    @router.delete(
        "/v1/buckets/{bucket}",
        status_code=204,
        response_class=Response,
        dependencies=[requires(Action.ADMIN)],
        responses={
            403: problem_doc("The key holds no `admin` grant on the bucket."),
            404: problem_doc("No such bucket."),
            409: problem_doc("The bucket still holds objects or an upload in progress."),
        },
        summary="Delete an empty bucket",
    )
    async def delete_bucket(request: Request, bucket: str) -> Response:
        await anyio.to_thread.run_sync(_delete_bucket, backends_of(request), bucket)
        return Response(status_code=204)

    return router
