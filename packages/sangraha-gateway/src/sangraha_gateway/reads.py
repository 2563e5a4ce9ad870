"""GetObject and HeadObject: the newest ready version of a key, with S3's conditions,
a single byte range and the ``response-*`` overrides.

S3 sees only ready versions: a key whose only versions are pending or failed is
``NoSuchKey`` (the message says which), as it would be before the PUT had finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from starlette.responses import Response

from sangraha_core import (
    CONTENT_SECURITY_POLICY,
    BucketNotFoundError,
    ObjectNotFoundError,
    ObjectRecord,
    blob_key,
    http_date,
    if_modified_since_matches,
    if_none_match_matches,
    if_range_matches,
    parse_http_date,
    parse_range,
    resolve_by_key,
)
from sangraha_core.access import Action
from sangraha_core.metadata import MetadataStore
from sangraha_core.web import BlobStreamResponse

from ._call import S3Call
from ._errors import S3Error
from ._records import meta_headers, s3_etag
from ._xml import MAX_PART_NUMBER

__all__ = ["get_object", "head_object", "ready_version"]

#: ``response-<name>`` query parameters a GET may use to set the answer's headers.
_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


async def get_object(call: S3Call) -> Response:
    return await _read(call, head=False)


async def head_object(call: S3Call) -> Response:
    return await _read(call, head=True)


def ready_version(
    metadata: MetadataStore, bucket: str, key: str, version: str | None = None
) -> ObjectRecord:
    """The version S3 serves for ``bucket``/``key``; ``NoSuchBucket`` or ``NoSuchKey``."""
    try:
        return resolve_by_key(metadata, bucket, key, version)
    except ObjectNotFoundError as error:
        try:
            metadata.get_bucket(bucket)
        except BucketNotFoundError:
            raise S3Error("NoSuchBucket", f"no bucket {bucket!r}", resource=bucket) from None
        raise S3Error("NoSuchKey", str(error), resource=key) from None


async def _read(call: S3Call, *, head: bool) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.READ)
    version = call.query.get("versionId")
    part = _part_number(call)
    record = await call.run(partial(ready_version, call.backends.metadata, bucket, key, version))
    if part is not None and part != 1:
        raise S3Error("InvalidPartNumber", f"the object has one part, not {part}", resource=key)
    plan = _plan(record, call.request.headers, head=head, whole_part=part is not None)
    if plan.status != 200 and plan.status != 206:
        return Response(status_code=plan.status, headers=plan.headers)
    for name, header in _OVERRIDES.items():
        value = call.query.get(name)
        if value is not None:
            plan.headers[header] = _header_value(name, value)
    if head or plan.end <= plan.start:
        return Response(status_code=plan.status, headers=plan.headers)
    blobs = call.backends.blobs
    chunks = await call.run(
        partial(blobs.get, blob_key(record.digest), start=plan.start, end=plan.end)
    )
    return BlobStreamResponse(chunks, status_code=plan.status, headers=plan.headers)


def _part_number(call: S3Call) -> int | None:
    """``partNumber``: part boundaries are not kept, so every object is read as S3 reads
    one that was not uploaded in parts: part 1 is the whole of it, as a range."""
    if "partNumber" not in call.query:
        return None
    number = call.whole("partNumber", 0)
    if not 1 <= number <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", f"partNumber must be from 1 to {MAX_PART_NUMBER}")
    if call.header("range") is not None:
        raise S3Error("InvalidRequest", "a request cannot take both a Range and a partNumber")
    return number


def _header_value(name: str, value: str) -> str:
    """A ``response-*`` value as a header can carry it: a control character (a CR or LF
    would split the answer's headers) is refused; other text goes out as UTF-8 bytes."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise S3Error("InvalidArgument", f"{name} holds a control character")
    # Headers go out as Latin-1: this makes their bytes the UTF-8 of the text.
    return value.encode("utf-8").decode("latin-1")


@dataclass
class _Plan:
    status: int
    headers: dict[str, str]
    start: int = 0
    end: int = 0


def _plan(
    record: ObjectRecord, request: Mapping[str, str], *, head: bool, whole_part: bool = False
) -> _Plan:
    """S3's order: If-Match, else If-Unmodified-Since (412); If-None-Match, else
    If-Modified-Since (304); then Range (GET only: HEAD with a Range answers 200 too).
    ``whole_part`` (``partNumber=1``) is a range over the whole object, GET and HEAD."""
    etag = s3_etag(record)
    modified = record.updated_at
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "Accept-Ranges": "bytes",
        **meta_headers(record.metadata),
    }
    if_match = request.get("if-match")
    if if_match is not None:
        if not if_none_match_matches(if_match, etag):
            raise S3Error("PreconditionFailed", "If-Match names another version of the object")
    else:
        since = request.get("if-unmodified-since")
        if since is not None and _modified_since(since, modified) is True:
            raise S3Error("PreconditionFailed", "the object was modified after If-Unmodified-Since")
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        if if_none_match_matches(if_none_match, etag):
            return _Plan(304, headers)
    else:
        since = request.get("if-modified-since")
        if since is not None and _modified_since(since, modified) is False:
            return _Plan(304, headers)
    headers["Content-Type"] = record.content_type
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    selected = None
    range_header = request.get("range")
    if range_header is not None and not head:
        # A resumed download names the version it has: another one is sent whole, never
        # spliced onto the first (RFC 9110 13.1.5).
        if_range = request.get("if-range")
        if if_range is None or if_range_matches(if_range, etag, modified):
            selected = parse_range(range_header, record.size)
    if whole_part and record.size > 0:
        selected = (0, record.size)
    if selected is None:
        headers["Content-Length"] = str(record.size)
        return _Plan(200, headers, 0, record.size)
    start, end = selected
    headers["Content-Length"] = str(end - start)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{record.size}"
    return _Plan(206, headers, start, end)


def _modified_since(header: str, modified: datetime) -> bool | None:
    """Whether the object changed after the header's time; ``None`` for a date that cannot
    be read, which is no condition at all (RFC 9110 13.1.3)."""
    if parse_http_date(header) is None:
        return None
    return not if_modified_since_matches(header, modified)
