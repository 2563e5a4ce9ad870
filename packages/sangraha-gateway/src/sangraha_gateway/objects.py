"""Writes of whole objects: PutObject, CopyObject, DeleteObject and DeleteObjects."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from urllib.parse import unquote

from starlette.responses import Response

from sangraha_core import (
    BucketNotFoundError,
    ChecksumMismatchError,
    Ingest,
    InvalidNameError,
    ObjectNotFoundError,
    ObjectRecord,
    blob_key,
    if_none_match_matches,
    parse_http_date,
    validate_bucket,
)
from sangraha_core.access import Action

from . import _xml
from ._call import S3Call, closing, xml_response
from ._errors import S3Error, s3_error_of
from ._records import s3_etag, user_metadata
from ._upload import await_ready, sniffed
from .reads import ready_version

__all__ = [
    "check_copy_conditions",
    "check_put_conditions",
    "copy_object",
    "copy_source",
    "delete_object",
    "delete_objects",
    "put_object",
    "small_body",
]

#: The most a DeleteObjects body may hold: 1,000 keys of 1,024 bytes, escaped, in their XML.
_MAX_DELETE_BODY = 8 * 1024 * 1024


async def put_object(call: S3Call) -> Response:
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    await check_put_conditions(call, bucket, key)
    ingest = Ingest(call.backends)
    # A declared length over the limit is refused from the headers, before any byte is
    # read. The store hashes MD5 (the ETag) and SHA-256 (the address) anyway: it checks the
    # declared ones in the same pass.
    body = call.body(max_size=call.backends.settings.max_object_size, store_checks=True)
    headers = {name.lower(): value for name, value in call.request.headers.items()}

    def accept() -> tuple[ObjectRecord, dict[str, str]]:
        content_type, blocks = sniffed(headers.get("content-type"), body)
        try:
            record = ingest.accept(
                bucket,
                key,
                content_type,
                blocks,
                metadata=user_metadata(headers),
                md5=True,
                declared_md5=body.declared_md5,
                declared_digest=body.declared_digest,
                create_bucket=False,
            )
        except ChecksumMismatchError as error:
            raise body.mismatch(error) from None
        return record, body.response_headers

    record, echoed = await call.run(partial(accept))
    record = await await_ready(call, ingest, record)
    return Response(status_code=200, headers={"ETag": s3_etag(record), **echoed})


async def check_put_conditions(call: S3Call, bucket: str, key: str) -> None:
    """Conditional writes (PutObject, CopyObject's target, CompleteMultipartUpload):
    ``If-None-Match: *`` (only if absent), ``If-Match`` (only over that version). Checked
    before the write (before a body is read, a copy made, parts joined); two writers racing
    past the check both succeed, the later one becoming the newest version."""
    if_none_match = call.header("if-none-match")
    if_match = call.header("if-match")
    if if_none_match is None and if_match is None:
        return
    metadata = call.backends.metadata
    try:
        current: ObjectRecord | None = await call.run(partial(ready_version, metadata, bucket, key))
    except S3Error as error:
        if error.code != "NoSuchKey":
            raise
        current = None
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise S3Error("NotImplemented", "If-None-Match on a write takes only '*'")
        if current is not None:
            raise S3Error("PreconditionFailed", f"{key!r} exists and If-None-Match is '*'")
    if if_match is not None:
        if current is None:
            raise S3Error("NoSuchKey", f"no object {key!r} for If-Match", resource=key)
        if not if_none_match_matches(if_match, s3_etag(current)):
            raise S3Error("PreconditionFailed", f"If-Match names another version of {key!r}")


async def delete_object(call: S3Call) -> Response:
    """204 whether or not the key had versions, as S3 answers; every version goes."""
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.DELETE)
    ingest = Ingest(call.backends)
    await call.run(partial(_delete_quietly, ingest, bucket, key, call.query.get("versionId")))
    return Response(status_code=204)


def _delete_quietly(ingest: Ingest, bucket: str, key: str, version: str | None) -> None:
    try:
        ingest.delete(bucket, key, version)
    except ObjectNotFoundError:
        # S3's delete is idempotent; only a missing bucket is worth an error.
        try:
            ingest.backends.metadata.get_bucket(bucket)
        except BucketNotFoundError:
            raise S3Error("NoSuchBucket", f"no bucket {bucket!r}", resource=bucket) from None


async def delete_objects(call: S3Call) -> Response:
    bucket = call.bucket_name
    # The grant is the bucket's, and a missing bucket fails the request as a whole, as S3
    # answers: both are known before a body of up to 8 MiB is read for nothing.
    call.require(Action.DELETE)
    await call.run(partial(call.backends.metadata.get_bucket, bucket))
    body = await small_body(call, _MAX_DELETE_BODY)
    quiet, targets = _xml.parse_delete(body, max_bytes=_MAX_DELETE_BODY)
    ingest = Ingest(call.backends)
    deleted: list[_xml.Deleted] = []
    errors: list[_xml.DeleteError] = []
    for target in targets:
        try:
            await call.run(partial(_delete_quietly, ingest, bucket, target.key, target.version_id))
        except Exception as raised:
            error = s3_error_of(raised)
            errors.append(
                _xml.DeleteError(target.key, error.code, error.message, target.version_id)
            )
        else:
            deleted.append(_xml.Deleted(target.key, target.version_id))
    return xml_response(_xml.render_delete_result(deleted, errors, quiet=quiet))


async def small_body(call: S3Call, limit: int) -> bytes:
    """A request body that is XML, read whole (it is small), with its checksums checked."""
    body = call.body()

    def read() -> bytes:
        pieces: list[bytes] = []
        size = 0
        for block in body:
            size += len(block)
            if size > limit:
                raise S3Error("MalformedXML", f"the request body is over {limit} bytes")
            pieces.append(block)
        return b"".join(pieces)

    return await call.run(partial(read))


async def copy_object(call: S3Call) -> Response:
    """Copy by streaming the source's bytes through the write path: the copy is validated
    and processed like any upload, and its blob is shared, not stored again."""
    bucket, key = call.bucket_name, call.key_name
    call.require(Action.WRITE)
    source_bucket, source_key, source_version = copy_source(call.header("x-amz-copy-source"))
    call.require(Action.READ, source_bucket)
    metadata = call.backends.metadata
    source = await call.run(
        partial(ready_version, metadata, source_bucket, source_key, source_version)
    )
    check_copy_conditions(call, source)
    await check_put_conditions(call, bucket, key)
    directive = (call.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE")
    if directive == "COPY":
        if (source_bucket, source_key) == (bucket, key) and source_version is None:
            raise S3Error(
                "InvalidRequest",
                "copying an object onto itself without changing its metadata changes nothing",
            )
        content_type, meta = source.content_type, dict(source.metadata)
    else:
        content_type = call.header("content-type") or source.content_type
        meta = user_metadata(dict(call.request.headers))
    ingest = Ingest(call.backends)
    blobs = call.backends.blobs

    def copy() -> ObjectRecord:
        with closing(blobs.get(blob_key(source.digest))) as chunks:
            return ingest.accept(
                bucket,
                key,
                content_type,
                chunks,
                metadata=meta,
                declared_digest=source.digest,
                md5=True,
                create_bucket=False,
            )

    record = await call.run(partial(copy))
    record = await await_ready(call, ingest, record)
    document = _xml.render_copy_object_result(etag=s3_etag(record), last_modified=record.updated_at)
    return xml_response(document)


def copy_source(header: str | None) -> tuple[str, str, str | None]:
    """``x-amz-copy-source`` (``[/]bucket/key[?versionId=id]``, URL-encoded) in parts."""
    if not header:
        raise S3Error("InvalidArgument", "x-amz-copy-source is empty")
    path, _, query = header.partition("?")
    version = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise S3Error("InvalidArgument", "x-amz-copy-source takes only ?versionId=")
        version = unquote(value)
    bucket, slash, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not slash or not key:
        raise S3Error("InvalidArgument", "x-amz-copy-source must be <bucket>/<key>")
    try:
        validate_bucket(bucket)
    except InvalidNameError as error:
        raise S3Error("InvalidBucketName", str(error), resource=bucket) from None
    return bucket, key, version


def check_copy_conditions(call: S3Call, source: ObjectRecord) -> None:
    """``x-amz-copy-source-if-*``: the source must be the version the client expects."""
    etag = s3_etag(source)
    if_match = call.header("x-amz-copy-source-if-match")
    if if_match is not None and not if_none_match_matches(if_match, etag):
        raise S3Error("PreconditionFailed", "x-amz-copy-source-if-match names another version")
    if_none_match = call.header("x-amz-copy-source-if-none-match")
    if if_none_match is not None and if_none_match_matches(if_none_match, etag):
        raise S3Error("PreconditionFailed", "x-amz-copy-source-if-none-match matches the source")
    _check_copy_time(call, "x-amz-copy-source-if-unmodified-since", source.updated_at, after=True)
    _check_copy_time(call, "x-amz-copy-source-if-modified-since", source.updated_at, after=False)


def _check_copy_time(call: S3Call, header: str, modified: datetime, *, after: bool) -> None:
    value = call.header(header)
    moment = parse_http_date(value) if value is not None else None
    if moment is None:
        return
    changed = modified.replace(microsecond=0) > moment
    if changed == after:
        raise S3Error("PreconditionFailed", f"the source does not meet {header}")
