"""ListObjects (v1) and ListObjectsV2: each key's newest ready version, in key order, with
prefixes, delimiters and S3's three ways of saying where to resume.

Both versions rest on the core's :func:`~sangraha_core.list_tree`; they differ only in how
a page ends (``NextMarker`` against an opaque ``NextContinuationToken``) and in what a
listing shows (v2 leaves out the owner unless asked).
"""

from __future__ import annotations

import base64
import binascii
from functools import partial

from starlette.responses import Response

from sangraha_core import ObjectRecord, TreePage, list_tree
from sangraha_core.access import Action

from . import _xml
from ._call import S3Call, xml_response
from ._errors import S3Error
from ._records import s3_etag
from .buckets import OWNER

__all__ = ["MAX_KEYS", "list_objects", "list_objects_v2"]

#: The most keys one page lists, and the default: S3's.
MAX_KEYS = 1000


async def list_objects(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.LIST)
    prefix, delimiter, limit, encoding = _common_params(call)
    marker = call.echoed("marker", url_encoded=encoding is not None) or ""
    page = await _page(call, bucket, prefix, delimiter, marker or None, limit)
    result = _xml.ListObjectsResult(
        bucket=bucket,
        prefix=prefix,
        marker=marker,
        # S3 sends NextMarker only with a delimiter; without one, the last key is the marker.
        next_marker=page.next_marker if page.is_truncated and delimiter else None,
        max_keys=limit,
        delimiter=delimiter,
        is_truncated=page.is_truncated,
        encoding_type=encoding,
        contents=[_entry(record, owner=True) for record in page.entries],
        common_prefixes=page.common_prefixes,
    )
    return xml_response(_xml.render_list_objects(result))


async def list_objects_v2(call: S3Call) -> Response:
    bucket, query = call.bucket_name, call.query
    call.require(Action.LIST)
    prefix, delimiter, limit, encoding = _common_params(call)
    token = query.get("continuation-token")
    start_after = call.echoed("start-after", url_encoded=encoding is not None) or None
    resume = _from_token(token) if token is not None else start_after
    page = await _page(call, bucket, prefix, delimiter, resume, limit)
    fetch_owner = query.get("fetch-owner", "false").lower() == "true"
    next_token = None
    if page.is_truncated and page.next_marker is not None:
        next_token = _to_token(page.next_marker)
    result = _xml.ListObjectsV2Result(
        bucket=bucket,
        prefix=prefix,
        max_keys=limit,
        delimiter=delimiter,
        is_truncated=page.is_truncated,
        encoding_type=encoding,
        continuation_token=token,
        next_continuation_token=next_token,
        start_after=start_after,
        fetch_owner=fetch_owner,
        contents=[_entry(record, owner=fetch_owner) for record in page.entries],
        common_prefixes=page.common_prefixes,
    )
    return xml_response(_xml.render_list_objects_v2(result))


async def _page(
    call: S3Call,
    bucket: str,
    prefix: str,
    delimiter: str | None,
    start_after: str | None,
    limit: int,
) -> TreePage:
    metadata = call.backends.metadata
    # A listing of a missing bucket is NoSuchBucket, not an empty page.
    await call.run(partial(metadata.get_bucket, bucket))
    if limit == 0:
        # Asked for nothing: an empty page that is not truncated, as S3 answers, not a
        # truncated one without a NextMarker or NextContinuationToken to go on from.
        return TreePage()
    return await call.run(
        partial(
            list_tree,
            metadata,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            start_after=start_after,
            limit=limit,
        )
    )


def _common_params(call: S3Call) -> tuple[str, str | None, int, _xml.EncodingType | None]:
    query = call.query
    encoding = query.get("encoding-type")
    if encoding is not None and encoding.lower() != "url":
        raise S3Error("InvalidArgument", f"encoding-type must be 'url', not {encoding!r}")
    encoded = encoding is not None
    prefix = call.echoed("prefix", url_encoded=encoded) or ""
    delimiter = call.echoed("delimiter", url_encoded=encoded) or None
    limit = min(call.whole("max-keys", MAX_KEYS), MAX_KEYS)
    return prefix, delimiter, limit, "url" if encoded else None


def _entry(record: ObjectRecord, *, owner: bool) -> _xml.ObjectEntry:
    return _xml.ObjectEntry(
        key=record.key,
        last_modified=record.updated_at,
        etag=s3_etag(record),
        size=record.size,
        owner=OWNER if owner else None,
    )


def _to_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def _from_token(token: str) -> str:
    try:
        # validate: the lenient decoder drops what is not base64, so "%%%" would read as
        # the empty marker and restart the listing instead of being refused.
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error(
            "InvalidArgument", "the continuation token is not one this server gave"
        ) from None
