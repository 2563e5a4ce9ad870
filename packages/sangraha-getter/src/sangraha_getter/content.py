"""Content routes: the bytes of a version, by key, by id or by digest, streamed.

Each route finds the record, lets the core plan the answer (304, 200 or 206 and its
headers), and streams the planned bytes from the blob store in bounded chunks.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sangraha_core import (
    CACHE_IMMUTABLE,
    CACHE_REVALIDATE,
    Digest,
    InvalidRequestError,
    ObjectFailedError,
    ObjectNotFoundError,
    ObjectRecord,
    ProblemType,
    Representation,
    blob_key,
    plan_read,
    require_ready,
    resolve_by_id,
    resolve_by_key,
)
from sangraha_core.access import Action
from sangraha_core.metadata import MetadataStore
from sangraha_core.storage import BlobStore
from sangraha_core.web import BlobStreamResponse, backends_of, problem_doc, problem_of, require

from .cache import MAX_CACHED_BLOB, CachedKey, ReadCache, read_cache

__all__ = [
    "failed_problem",
    "latest_record",
    "router",
    "serve",
    "small_blob",
]

router = APIRouter(tags=["content"])

#: What the OpenAPI schema says a content read may answer.
_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The content", "content": {"application/octet-stream": {}}},
    206: {"description": "The requested byte range", "content": {"application/octet-stream": {}}},
    304: {"description": "Not modified: the client's copy (If-None-Match) is current"},
    400: problem_doc("Invalid bucket name, key or digest"),
    404: problem_doc("No such object, version or blob"),
    409: problem_doc("The version is still pending, or failed processing"),
    416: problem_doc("Range not satisfiable"),
}
_HEAD_RESPONSES = {k: v for k, v in _CONTENT_RESPONSES.items() if k not in (206, 416)}


def failed_problem(error: ObjectFailedError, request: Request) -> Response:
    """409: the version exists but has no content, because processing failed."""
    return problem_of(
        ProblemType.FAILED,
        str(error),
        instance=request.url.path,
        id=error.record.id,
        reason=error.reason,
    )


async def serve(request: Request, rep: Representation, *, cache_control: str) -> Response:
    """Answer a GET or HEAD of ``rep``; the core decides status, bytes and headers.

    Small content is answered whole from the read cache, filled on a miss; larger
    content is streamed.
    """
    plan = plan_read(rep, request.headers, method=request.method, cache_control=cache_control)
    if request.method == "HEAD" or not plan.has_body:
        return Response(status_code=plan.status, headers=plan.headers)
    blobs = backends_of(request).blobs
    if rep.size <= MAX_CACHED_BLOB:
        data = await small_blob(read_cache(request), blobs, rep.digest)
        return Response(data[plan.start : plan.end], status_code=plan.status, headers=plan.headers)
    chunks = await run_in_threadpool(
        blobs.get, blob_key(rep.digest), start=plan.start, end=plan.end
    )
    return BlobStreamResponse(chunks, status_code=plan.status, headers=plan.headers)


async def small_blob(
    cache: ReadCache,
    blobs: BlobStore,
    digest: Digest,
    limiter: anyio.CapacityLimiter | None = None,
) -> bytes:
    """The whole content of a blob of at most ``MAX_CACHED_BLOB`` bytes: from the cache,
    or read in a worker thread (of ``limiter``) and kept."""
    data = await cache.blob(digest)
    if data is None:
        data = await anyio.to_thread.run_sync(_read_whole, blobs, digest, limiter=limiter)
        await cache.keep_blob(digest, data)
    return data


def _read_whole(blobs: BlobStore, digest: Digest) -> bytes:
    chunks = blobs.get(blob_key(digest))
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _serve_record(request: Request, record: ObjectRecord, cache_control: str) -> Response:
    return await serve(request, Representation.of_record(record), cache_control=cache_control)


# -- by key ------------------------------------------------------------------------------


async def latest_record(
    cache: ReadCache,
    metadata: MetadataStore,
    bucket: str,
    key: str,
    limiter: anyio.CapacityLimiter | None = None,
) -> tuple[ObjectRecord, CachedKey | None]:
    """The latest ready record of a key, looked up in a worker thread (of ``limiter``),
    and the cache entry kept for it (``None`` when a change raced the lookup)."""
    epoch = cache.epoch
    record = await anyio.to_thread.run_sync(resolve_by_key, metadata, bucket, key, limiter=limiter)
    return record, cache.keep_record(record, epoch)


async def _by_key(request: Request, bucket: str, key: str, version: str | None) -> Response:
    require(request, Action.READ, bucket)
    reads = read_cache(request)
    record = reads.record(bucket, key) if version is None else None
    if record is None:
        metadata = backends_of(request).metadata
        try:
            if version is None:
                record, _ = await latest_record(reads, metadata, bucket, key)
            else:
                record = await run_in_threadpool(resolve_by_key, metadata, bucket, key, version)
        except ObjectFailedError as error:
            return failed_problem(error, request)
    # The latest version of a key can change; one named version never does.
    cache = CACHE_REVALIDATE if version is None else CACHE_IMMUTABLE
    return await _serve_record(request, record, cache)


@router.get(
    "/v1/buckets/{bucket}/objects/{key:objectkey}",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
    summary="Content of the latest ready version of a key (or of ?version=)",
)
async def get_object(
    request: Request, bucket: str, key: str, version: str | None = None
) -> Response:
    return await _by_key(request, bucket, key, version)


@router.head(
    "/v1/buckets/{bucket}/objects/{key:objectkey}",
    response_class=Response,
    responses=_HEAD_RESPONSES,
    summary="Headers of the latest ready version of a key (or of ?version=)",
)
async def head_object(
    request: Request, bucket: str, key: str, version: str | None = None
) -> Response:
    return await _by_key(request, bucket, key, version)


# -- by id -------------------------------------------------------------------------------


async def _by_id(request: Request, object_id: str) -> Response:
    metadata = backends_of(request).metadata
    try:
        record = await run_in_threadpool(resolve_by_id, metadata, object_id)
        require(request, Action.READ, record.bucket)
        record = require_ready(record)
    except ObjectFailedError as error:
        return failed_problem(error, request)
    return await _serve_record(request, record, CACHE_IMMUTABLE)


@router.get(
    "/v1/objects/{object_id}/content",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
    summary="Content of one version, by id",
)
async def get_object_by_id(request: Request, object_id: str) -> Response:
    return await _by_id(request, object_id)


@router.head(
    "/v1/objects/{object_id}/content",
    response_class=Response,
    responses=_HEAD_RESPONSES,
    summary="Headers of one version, by id",
)
async def head_object_by_id(request: Request, object_id: str) -> Response:
    return await _by_id(request, object_id)


# -- by digest ---------------------------------------------------------------------------


def _blob_representation(request: Request, hex_digest: str) -> Representation:
    try:
        digest = Digest.from_hex(hex_digest)
    except ValueError:
        raise InvalidRequestError(
            f"not a SHA-256 digest (want 64 hex digits): {hex_digest[:80]!r}"
        ) from None
    backends = backends_of(request)
    # Only referenced bytes are served: staged or collected blobs are nobody's content.
    if backends.metadata.blob_refcount(digest) <= 0:
        raise ObjectNotFoundError(f"no stored content with digest {digest}")
    info = backends.blobs.head(blob_key(digest))
    return Representation(digest=digest, size=info.size, last_modified=info.last_modified)


async def _by_digest(request: Request, hex_digest: str) -> Response:
    # The same bytes may be stored in any bucket: reading them by digest needs them all.
    require(request, Action.READ, "*")
    rep = await run_in_threadpool(_blob_representation, request, hex_digest)
    return await serve(request, rep, cache_control=CACHE_IMMUTABLE)


@router.get(
    "/v1/blobs/sha256:{hex_digest}",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
    summary="Content by its SHA-256 digest",
)
async def get_blob(request: Request, hex_digest: str) -> Response:
    return await _by_digest(request, hex_digest)


@router.head(
    "/v1/blobs/sha256:{hex_digest}",
    response_class=Response,
    responses=_HEAD_RESPONSES,
    summary="Headers of content by its SHA-256 digest",
)
async def head_blob(request: Request, hex_digest: str) -> Response:
    return await _by_digest(request, hex_digest)
