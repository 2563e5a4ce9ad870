"""S3 multipart uploads on Sangraha's upload sessions: an UploadId is a session's id.

Create, UploadPart, UploadPartCopy, ListParts, Complete, Abort and ListMultipartUploads.
Parts are checked as S3 checks them (5 MiB but for the last, ETags that match what was
uploaded, ascending numbers); Complete answers once the assembled object is ready.
"""

from __future__ import annotations

import re
from functools import partial

from starlette.responses import Response

from sangraha_core import (
    ChecksumMismatchError,
    Ingest,
    ObjectRecord,
    UploadNotFoundError,
    Uploads,
    UploadSession,
    UploadStatus,
    blob_key,
    parse_range,
)
from sangraha_core.access import Action

from . import _xml
from ._call import S3Call, closing, xml_response
from ._errors import S3Error
from ._records import s3_etag, user_metadata
from ._upload import await_ready, is_generic
from .buckets import OWNER
from .objects import check_copy_conditions, check_put_conditions, copy_source, small_body
from .reads import ready_version

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]

#: The largest CompleteMultipartUpload body: 10,000 parts of about 100 bytes of XML each.
_MAX_COMPLETE_BODY = 4 * 1024 * 1024
_MAX_LISTED = 1000
_COPY_RANGE = re.compile(r"bytes=[0-9]+-[0-9]+")


async def create_multipart_upload(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    uploads = Uploads(call.backends)
    # No bytes yet: a generic or missing type is left to them, decided at completion as a
    # PutObject's first bytes decide it.
    declared = call.header("content-type")
    content_type = None if is_generic(declared) else declared
    session = await call.run(
        partial(
            uploads.open,
            bucket,
            key,
            content_type,
            metadata=user_metadata(dict(call.request.headers)),
            create_bucket=False,
        )
    )
    document = _xml.render_initiate_multipart_upload(bucket=bucket, key=key, upload_id=session.id)
    return xml_response(document)


async def upload_part(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    number = _part_number(call)
    uploads = Uploads(call.backends)
    session = await _session(call, uploads, bucket, key)
    limit = min(session.max_part_size, call.backends.settings.max_object_size)
    body = call.body(max_size=limit, store_checks=True)

    def put() -> tuple[str, dict[str, str]]:
        try:
            part = uploads.put_part(
                session.id,
                number,
                body,
                md5=True,
                declared_md5=body.declared_md5,
                declared_digest=body.declared_digest,
            )
        except ChecksumMismatchError as error:
            raise body.mismatch(error) from None
        return part.md5 or part.etag, body.response_headers

    etag, echoed = await call.run(partial(put))
    return Response(status_code=200, headers={"ETag": f'"{etag}"', **echoed})


async def upload_part_copy(call: S3Call) -> Response:
    """A part made of a range of another object, read from its blob; nothing crosses the
    network but the source's bytes once."""
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    number = _part_number(call)
    source_bucket, source_key, source_version = copy_source(call.header("x-amz-copy-source"))
    call.require(Action.READ, source_bucket)
    uploads = Uploads(call.backends)
    session = await _session(call, uploads, bucket, key)
    metadata = call.backends.metadata
    source = await call.run(
        partial(ready_version, metadata, source_bucket, source_key, source_version)
    )
    check_copy_conditions(call, source)
    start, end = 0, source.size
    wanted = call.header("x-amz-copy-source-range")
    if wanted is not None:
        # S3 takes only bytes=first-last here: no open end, no suffix, no list.
        if _COPY_RANGE.fullmatch(wanted.strip()) is None:
            raise S3Error(
                "InvalidArgument", "x-amz-copy-source-range must be bytes=first-last, both given"
            )
        selected = parse_range(wanted, source.size)
        if selected is None:
            raise S3Error(
                "InvalidArgument", "x-amz-copy-source-range must be bytes=first-last, both given"
            )
        start, end = selected
    blobs = call.backends.blobs

    def copy() -> str:
        with closing(blobs.get(blob_key(source.digest), start=start, end=end)) as chunks:
            part = uploads.put_part(session.id, number, chunks, size=end - start, md5=True)
        return part.md5 or part.etag

    etag = await call.run(partial(copy))
    document = _xml.render_copy_part_result(etag=etag, last_modified=source.updated_at)
    return xml_response(document)


async def list_parts(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    uploads = Uploads(call.backends)
    session = await _session(call, uploads, bucket, key)
    marker = call.whole("part-number-marker", 0)
    limit = min(call.whole("max-parts", _MAX_LISTED), _MAX_LISTED)
    after = sorted((p for p in session.parts if p.number > marker), key=lambda p: p.number)
    shown = after[:limit]
    # max-parts=0 asks for nothing: not a truncated page without a marker to go on from.
    truncated = limit > 0 and len(after) > limit
    result = _xml.ListPartsResult(
        bucket=bucket,
        key=key,
        upload_id=session.id,
        initiator=OWNER,
        owner=OWNER,
        part_number_marker=marker,
        next_part_number_marker=shown[-1].number if truncated and shown else None,
        max_parts=limit,
        is_truncated=truncated,
        parts=[
            _xml.PartEntry(
                part_number=p.number,
                last_modified=session.created_at,
                etag=p.md5 or p.etag,
                size=p.size,
            )
            for p in shown
        ],
    )
    return xml_response(_xml.render_list_parts(result))


async def complete_multipart_upload(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    body = await small_body(call, _MAX_COMPLETE_BODY)
    named = _xml.parse_complete_multipart_upload(body, max_bytes=_MAX_COMPLETE_BODY)
    if not named:
        raise S3Error("MalformedXML", "CompleteMultipartUpload names no part")
    uploads = Uploads(call.backends)
    upload_id = call.query.get("uploadId") or ""
    # Not _session, which takes only an open upload: a client whose first Complete was
    # answered too late for it retries, and must be answered with the object it made.
    try:
        session = await call.run(partial(uploads.backends.metadata.get_upload, upload_id))
    except UploadNotFoundError:
        raise S3Error("NoSuchUpload", f"no upload {upload_id!r}", resource=key) from None
    _check_target(session, bucket, key)
    numbers = [part.part_number for part in named]
    if numbers != sorted(set(numbers)):
        raise S3Error("InvalidPartOrder", "the parts must be listed in ascending order, once each")
    if session.status is UploadStatus.OPEN:
        # Before the join. A retry of a completed upload is answered with the object it
        # made, which would fail If-None-Match: * against itself.
        await check_put_conditions(call, bucket, key)
    parts = [(part.part_number, part.etag) for part in named]
    record: ObjectRecord = await call.run(partial(uploads.complete, session.id, parts=parts))
    record = await await_ready(call, Ingest(call.backends), record)
    document = _xml.render_complete_multipart_upload(
        location=f"/{bucket}/{key}", bucket=bucket, key=key, etag=s3_etag(record)
    )
    return xml_response(document)


async def abort_multipart_upload(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    uploads = Uploads(call.backends)
    session = await _session(call, uploads, bucket, key)
    await call.run(partial(uploads.abort, session.id))
    return Response(status_code=204)


async def list_multipart_uploads(call: S3Call) -> Response:
    bucket = call.bucket_name
    call.require(Action.WRITE)
    metadata = call.backends.metadata
    await call.run(partial(metadata.get_bucket, bucket))
    # The answer never URL-encodes them: what XML cannot carry is refused.
    prefix = call.echoed("prefix") or ""
    key_marker = call.echoed("key-marker") or ""
    id_marker = call.echoed("upload-id-marker") or ""
    limit = min(call.whole("max-uploads", _MAX_LISTED), _MAX_LISTED)
    after = (key_marker, id_marker or "~") if key_marker else None
    found: list[UploadSession] = await call.run(
        partial(metadata.list_uploads, bucket, prefix=prefix or None, after=after, limit=limit + 1)
    )
    shown, truncated = found[:limit], limit > 0 and len(found) > limit
    result = _xml.ListMultipartUploadsResult(
        bucket=bucket,
        key_marker=key_marker,
        upload_id_marker=id_marker,
        next_key_marker=shown[-1].key if truncated and shown else None,
        next_upload_id_marker=shown[-1].id if truncated and shown else None,
        prefix=prefix,
        max_uploads=limit,
        is_truncated=truncated,
        uploads=[
            _xml.UploadEntry(
                key=s.key, upload_id=s.id, initiated=s.created_at, owner=OWNER, initiator=OWNER
            )
            for s in shown
        ],
    )
    return xml_response(_xml.render_list_multipart_uploads(result))


async def _session(call: S3Call, uploads: Uploads, bucket: str, key: str) -> UploadSession:
    upload_id = call.query.get("uploadId") or ""
    try:
        session = await call.run(partial(uploads.get, upload_id))
    except UploadNotFoundError:
        raise S3Error("NoSuchUpload", f"no upload {upload_id!r}", resource=key) from None
    _check_target(session, bucket, key)
    if session.status is not UploadStatus.OPEN:
        raise S3Error("NoSuchUpload", f"upload {upload_id} is {session.status.value}")
    return session


def _check_target(session: UploadSession, bucket: str, key: str) -> None:
    # An upload id of another object must not reach that object's parts through this URL.
    if session.bucket != bucket or session.key != key:
        raise S3Error("NoSuchUpload", f"no upload {session.id} of {key!r}", resource=key)


def _part_number(call: S3Call) -> int:
    number = call.whole("partNumber", 0)
    if not 1 <= number <= _xml.MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", f"partNumber must be from 1 to {_xml.MAX_PART_NUMBER}")
    return number
