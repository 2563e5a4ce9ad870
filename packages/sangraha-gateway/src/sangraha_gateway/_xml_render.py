"""S3's response documents, rendered from plain values.

Every function returns the whole document as UTF-8 bytes, with the XML declaration and
S3's namespace on the root. Datetimes must be aware; they are written in UTC with
milliseconds (``2026-12-02T15:04:05.000Z``), as S3 writes them. ETags are given bare or
quoted and always written quoted.

Text that XML 1.0 cannot carry. A key may hold any character but NUL-free XML 1.0 text
cannot hold U+0001-U+0008, U+000B, U+000C, U+000E-U+001F, U+FFFE or U+FFFF, not even as
character references. S3 writes them as references anyway (``&#x1;``), so such a listing is
refused by every conforming parser unless the client asked for ``encoding-type=url``; that
is why botocore always asks. We do the same, so a key is never silently altered: the
listing either says it exactly or fails to parse. A carriage return is written as
``&#xD;``, because a parser turns a literal one into a line feed.

``encoding-type=url``. The key-bearing fields are percent-encoded as S3 does (measured
against AWS: space is ``+``, ``+`` is ``%2B``, ``/`` stays, UTF-8 bytes are ``%XX``), that is
:func:`urllib.parse.quote_plus` with ``safe="/"``. Which fields are encoded follows
botocore's ``decode_list_object*`` handlers, the decoders every botocore-based tool (boto3,
the AWS CLI, s3fs) runs. In ListObjects V1 that is Delimiter, Marker, NextMarker, Key and
CommonPrefixes, and not Prefix: the AWS reference lists Prefix too, but botocore would hand
it back still encoded; a V1 prefix is encoded only if it holds a character XML cannot carry,
so the listing stays readable. In V2 it is Delimiter, Prefix, StartAfter, Key and
CommonPrefixes (continuation tokens are opaque and never encoded). ListMultipartUploads,
which botocore never asks to encode, follows the AWS reference: Delimiter, KeyMarker,
NextKeyMarker, Prefix, Key and CommonPrefixes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote_plus

__all__ = [
    "S3_NAMESPACE",
    "BucketEntry",
    "DeleteError",
    "Deleted",
    "EncodingType",
    "ListMultipartUploadsResult",
    "ListObjectsResult",
    "ListObjectsV2Result",
    "ListPartsResult",
    "ObjectEntry",
    "Owner",
    "PartEntry",
    "UploadEntry",
    "render_access_control_policy",
    "render_complete_multipart_upload",
    "render_copy_object_result",
    "render_copy_part_result",
    "render_delete_result",
    "render_initiate_multipart_upload",
    "render_list_buckets",
    "render_list_multipart_uploads",
    "render_list_objects",
    "render_list_objects_v2",
    "render_list_parts",
    "render_location_constraint",
    "render_tagging",
    "render_versioning_configuration",
    "s3_timestamp",
    "url_encode",
]

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

#: The only value of ``encoding-type`` S3 knows.
EncodingType = Literal["url"]

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

#: Characters XML 1.0 has no place for, written as references as S3 does (see the module doc).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MARKUP = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})


@dataclass(frozen=True)
class Owner:
    """An ``<Owner>`` or ``<Initiator>``: the account's canonical ID and display name."""

    id: str
    display_name: str


@dataclass(frozen=True)
class BucketEntry:
    """One ``<Bucket>`` of ListAllMyBucketsResult."""

    name: str
    created: datetime


@dataclass(frozen=True)
class ObjectEntry:
    """One ``<Contents>`` of a listing; ``owner`` is written in V1, and in V2 with fetch-owner."""

    key: str
    last_modified: datetime
    etag: str
    size: int
    owner: Owner | None = None
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class ListObjectsResult:
    """ListObjects (V1). ``next_marker`` is written only when truncated with a delimiter.

    Without a delimiter S3 leaves NextMarker out and clients go on from the last key; with
    one the last entry may be a common prefix, so the caller must give it.
    """

    bucket: str
    prefix: str = ""
    marker: str = ""
    next_marker: str | None = None
    max_keys: int = 1000
    delimiter: str | None = None
    is_truncated: bool = False
    encoding_type: EncodingType | None = None
    contents: Sequence[ObjectEntry] = ()
    common_prefixes: Sequence[str] = ()


@dataclass(frozen=True)
class ListObjectsV2Result:
    """ListObjectsV2 (``list-type=2``); KeyCount is counted from the entries."""

    bucket: str
    prefix: str = ""
    max_keys: int = 1000
    delimiter: str | None = None
    is_truncated: bool = False
    encoding_type: EncodingType | None = None
    continuation_token: str | None = None
    next_continuation_token: str | None = None
    start_after: str | None = None
    fetch_owner: bool = False
    contents: Sequence[ObjectEntry] = ()
    common_prefixes: Sequence[str] = ()


@dataclass(frozen=True)
class PartEntry:
    """One ``<Part>`` of ListPartsResult; ``checksums`` maps ``CRC32`` etc. to the value."""

    part_number: int
    last_modified: datetime
    etag: str
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListPartsResult:
    """ListParts. ``next_part_number_marker`` None: the last part listed (0 if none)."""

    bucket: str
    key: str
    upload_id: str
    initiator: Owner
    owner: Owner
    part_number_marker: int = 0
    next_part_number_marker: int | None = None
    max_parts: int = 1000
    is_truncated: bool = False
    parts: Sequence[PartEntry] = ()
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None


@dataclass(frozen=True)
class UploadEntry:
    """One ``<Upload>`` of ListMultipartUploadsResult."""

    key: str
    upload_id: str
    initiated: datetime
    owner: Owner
    initiator: Owner
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class ListMultipartUploadsResult:
    """ListMultipartUploads; the next markers are written when given."""

    bucket: str
    key_marker: str = ""
    upload_id_marker: str = ""
    next_key_marker: str | None = None
    next_upload_id_marker: str | None = None
    prefix: str = ""
    delimiter: str | None = None
    max_uploads: int = 1000
    is_truncated: bool = False
    encoding_type: EncodingType | None = None
    uploads: Sequence[UploadEntry] = ()
    common_prefixes: Sequence[str] = ()


@dataclass(frozen=True)
class Deleted:
    """One ``<Deleted>`` of DeleteResult."""

    key: str
    version_id: str | None = None


@dataclass(frozen=True)
class DeleteError:
    """One ``<Error>`` of DeleteResult: S3's code and message for that key."""

    key: str
    code: str
    message: str
    version_id: str | None = None


def s3_timestamp(moment: datetime) -> str:
    """``2026-12-02T15:04:05.000Z``: an aware datetime in UTC, to the millisecond."""
    if moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; S3 times are UTC")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def url_encode(value: str) -> str:
    """A key-bearing field as S3 writes it under ``encoding-type=url``."""
    return quote_plus(value, safe="/")


def render_list_buckets(owner: Owner, buckets: Sequence[BucketEntry]) -> bytes:
    """ListAllMyBucketsResult."""
    entries = "".join(
        f"<Bucket>{_el('Name', b.name)}{_el('CreationDate', s3_timestamp(b.created))}</Bucket>"
        for b in buckets
    )
    return _document(
        "ListAllMyBucketsResult", f"{_owner('Owner', owner)}<Buckets>{entries}</Buckets>"
    )


def render_list_objects(result: ListObjectsResult) -> bytes:
    """ListBucketResult for ListObjects (V1)."""
    enc = _encoder(result.encoding_type)
    parts = [
        _el("Name", result.bucket),
        _el("Prefix", _v1_prefix(result.prefix, enc)),
        _el("Marker", enc(result.marker)),
    ]
    if result.is_truncated and result.delimiter is not None and result.next_marker is not None:
        parts.append(_el("NextMarker", enc(result.next_marker)))
    parts.append(_el("MaxKeys", str(result.max_keys)))
    if result.delimiter is not None:
        parts.append(_el("Delimiter", enc(result.delimiter)))
    parts.append(_el("IsTruncated", _bool(result.is_truncated)))
    if result.encoding_type is not None:
        parts.append(_el("EncodingType", result.encoding_type))
    parts += (_contents(entry, enc, with_owner=True) for entry in result.contents)
    parts += (_common_prefix(prefix, enc) for prefix in result.common_prefixes)
    return _document("ListBucketResult", "".join(parts))


def render_list_objects_v2(result: ListObjectsV2Result) -> bytes:
    """ListBucketResult for ListObjectsV2."""
    enc = _encoder(result.encoding_type)
    parts = [_el("Name", result.bucket), _el("Prefix", enc(result.prefix))]
    if result.continuation_token is not None:
        parts.append(_el("ContinuationToken", result.continuation_token))
    if result.next_continuation_token is not None:
        parts.append(_el("NextContinuationToken", result.next_continuation_token))
    key_count = len(result.contents) + len(result.common_prefixes)
    parts += [_el("KeyCount", str(key_count)), _el("MaxKeys", str(result.max_keys))]
    if result.delimiter is not None:
        parts.append(_el("Delimiter", enc(result.delimiter)))
    if result.encoding_type is not None:
        parts.append(_el("EncodingType", result.encoding_type))
    parts.append(_el("IsTruncated", _bool(result.is_truncated)))
    if result.start_after is not None:
        parts.append(_el("StartAfter", enc(result.start_after)))
    parts += (_contents(e, enc, with_owner=result.fetch_owner) for e in result.contents)
    parts += (_common_prefix(prefix, enc) for prefix in result.common_prefixes)
    return _document("ListBucketResult", "".join(parts))


def render_initiate_multipart_upload(*, bucket: str, key: str, upload_id: str) -> bytes:
    """InitiateMultipartUploadResult (CreateMultipartUpload)."""
    body = _el("Bucket", bucket) + _el("Key", key) + _el("UploadId", upload_id)
    return _document("InitiateMultipartUploadResult", body)


def render_complete_multipart_upload(
    *,
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """CompleteMultipartUploadResult; ``checksums`` maps ``CRC32`` etc. to the object's value."""
    body = _el("Location", location) + _el("Bucket", bucket) + _el("Key", key)
    body += _el("ETag", _quoted(etag)) + _checksums(checksums)
    if checksum_type is not None:
        body += _el("ChecksumType", checksum_type)
    return _document("CompleteMultipartUploadResult", body)


def render_list_parts(result: ListPartsResult) -> bytes:
    """ListPartsResult."""
    next_marker = result.next_part_number_marker
    if next_marker is None:
        next_marker = result.parts[-1].part_number if result.parts else 0
    parts = [
        _el("Bucket", result.bucket),
        _el("Key", result.key),
        _el("UploadId", result.upload_id),
        _el("PartNumberMarker", str(result.part_number_marker)),
        _el("NextPartNumberMarker", str(next_marker)),
        _el("MaxParts", str(result.max_parts)),
        _el("IsTruncated", _bool(result.is_truncated)),
    ]
    for part in result.parts:
        parts.append(
            f"<Part>{_el('PartNumber', str(part.part_number))}"
            f"{_el('LastModified', s3_timestamp(part.last_modified))}"
            f"{_el('ETag', _quoted(part.etag))}{_el('Size', str(part.size))}"
            f"{_checksums(part.checksums)}</Part>"
        )
    parts += [_owner("Initiator", result.initiator), _owner("Owner", result.owner)]
    parts.append(_el("StorageClass", result.storage_class))
    if result.checksum_algorithm is not None:
        parts.append(_el("ChecksumAlgorithm", result.checksum_algorithm))
    return _document("ListPartsResult", "".join(parts))


def render_list_multipart_uploads(result: ListMultipartUploadsResult) -> bytes:
    """ListMultipartUploadsResult."""
    enc = _encoder(result.encoding_type)
    parts = [
        _el("Bucket", result.bucket),
        _el("KeyMarker", enc(result.key_marker)),
        _el("UploadIdMarker", result.upload_id_marker),
    ]
    if result.next_key_marker is not None:
        parts.append(_el("NextKeyMarker", enc(result.next_key_marker)))
    if result.next_upload_id_marker is not None:
        parts.append(_el("NextUploadIdMarker", result.next_upload_id_marker))
    if result.delimiter is not None:
        parts.append(_el("Delimiter", enc(result.delimiter)))
    parts += [
        _el("Prefix", enc(result.prefix)),
        _el("MaxUploads", str(result.max_uploads)),
        _el("IsTruncated", _bool(result.is_truncated)),
    ]
    if result.encoding_type is not None:
        parts.append(_el("EncodingType", result.encoding_type))
    for upload in result.uploads:
        parts.append(
            f"<Upload>{_el('Key', enc(upload.key))}{_el('UploadId', upload.upload_id)}"
            f"{_owner('Initiator', upload.initiator)}{_owner('Owner', upload.owner)}"
            f"{_el('StorageClass', upload.storage_class)}"
            f"{_el('Initiated', s3_timestamp(upload.initiated))}</Upload>"
        )
    parts += (_common_prefix(prefix, enc) for prefix in result.common_prefixes)
    return _document("ListMultipartUploadsResult", "".join(parts))


def render_copy_object_result(
    *, etag: str, last_modified: datetime, checksums: Mapping[str, str] | None = None
) -> bytes:
    """CopyObjectResult."""
    return _document("CopyObjectResult", _copy_body(etag, last_modified, checksums))


def render_copy_part_result(
    *, etag: str, last_modified: datetime, checksums: Mapping[str, str] | None = None
) -> bytes:
    """CopyPartResult (UploadPartCopy)."""
    return _document("CopyPartResult", _copy_body(etag, last_modified, checksums))


def render_delete_result(
    deleted: Sequence[Deleted], errors: Sequence[DeleteError], *, quiet: bool = False
) -> bytes:
    """DeleteResult; in quiet mode only the errors are written, as S3 does."""
    parts: list[str] = []
    if not quiet:
        for entry in deleted:
            version = "" if entry.version_id is None else _el("VersionId", entry.version_id)
            parts.append(f"<Deleted>{_el('Key', entry.key)}{version}</Deleted>")
    for error in errors:
        version = "" if error.version_id is None else _el("VersionId", error.version_id)
        parts.append(
            f"<Error>{_el('Key', error.key)}{version}{_el('Code', error.code)}"
            f"{_el('Message', error.message)}</Error>"
        )
    return _document("DeleteResult", "".join(parts))


def render_location_constraint(region: str | None) -> bytes:
    """GetBucketLocation: an empty element for us-east-1 (or None), else the region."""
    if region is None or region in ("", "us-east-1"):
        return _document("LocationConstraint", "")
    return _document("LocationConstraint", _text(region))


def render_versioning_configuration() -> bytes:
    """GetBucketVersioning of a bucket that never had versioning: no Status at all."""
    return _document("VersioningConfiguration", "")


def render_access_control_policy(owner: Owner) -> bytes:
    """GetBucketAcl / GetObjectAcl of a private resource: its owner holds FULL_CONTROL."""
    grantee = (
        f'<Grantee xmlns:xsi="{_XSI_NAMESPACE}" xsi:type="CanonicalUser">'
        f"{_el('ID', owner.id)}{_el('DisplayName', owner.display_name)}</Grantee>"
    )
    grant = f"<Grant>{grantee}{_el('Permission', 'FULL_CONTROL')}</Grant>"
    return _document(
        "AccessControlPolicy",
        f"{_owner('Owner', owner)}<AccessControlList>{grant}</AccessControlList>",
    )


def render_tagging(tags: Sequence[tuple[str, str]] = ()) -> bytes:
    """Tagging (GetObjectTagging): the TagSet, written even when empty, as S3 does."""
    entries = "".join(f"<Tag>{_el('Key', k)}{_el('Value', v)}</Tag>" for k, v in tags)
    return _document("Tagging", f"<TagSet>{entries}</TagSet>")


def _document(root: str, body: str) -> bytes:
    if not body:
        return f'{_DECLARATION}<{root} xmlns="{S3_NAMESPACE}"/>'.encode()
    return f'{_DECLARATION}<{root} xmlns="{S3_NAMESPACE}">{body}</{root}>'.encode()


def _text(value: str) -> str:
    escaped = value.translate(_MARKUP)
    return _NOT_XML.sub(lambda match: f"&#x{ord(match.group()):X};", escaped)


def _el(name: str, value: str) -> str:
    return f"<{name}>{_text(value)}</{name}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _quoted(etag: str) -> str:
    return f'"{etag.strip().strip(chr(34))}"'


def _identity(value: str) -> str:
    return value


def _encoder(encoding_type: EncodingType | None) -> Callable[[str], str]:
    if encoding_type is None:
        return _identity
    if encoding_type != "url":
        raise ValueError(f"encoding type {encoding_type!r} is not S3's; only 'url' is")
    return url_encode


def _contents(entry: ObjectEntry, enc: Callable[[str], str], *, with_owner: bool) -> str:
    owner = _owner("Owner", entry.owner) if with_owner and entry.owner is not None else ""
    return (
        f"<Contents>{_el('Key', enc(entry.key))}"
        f"{_el('LastModified', s3_timestamp(entry.last_modified))}"
        f"{_el('ETag', _quoted(entry.etag))}{_el('Size', str(entry.size))}{owner}"
        f"{_el('StorageClass', entry.storage_class)}</Contents>"
    )


def _v1_prefix(prefix: str, enc: Callable[[str], str]) -> str:
    # Left plain for botocore (see the module doc), unless plain would make the whole
    # listing unreadable: then it is encoded, and a client shows it encoded, but parses.
    return enc(prefix) if _NOT_XML.search(prefix) else prefix


def _common_prefix(prefix: str, enc: Callable[[str], str]) -> str:
    return f"<CommonPrefixes>{_el('Prefix', enc(prefix))}</CommonPrefixes>"


def _owner(element: str, owner: Owner) -> str:
    return f"<{element}>{_el('ID', owner.id)}{_el('DisplayName', owner.display_name)}</{element}>"


def _checksums(checksums: Mapping[str, str] | None) -> str:
    return "".join(_el(f"Checksum{name}", value) for name, value in (checksums or {}).items())


def _copy_body(etag: str, last_modified: datetime, checksums: Mapping[str, str] | None) -> str:
    return (
        _el("LastModified", s3_timestamp(last_modified))
        + _el("ETag", _quoted(etag))
        + _checksums(checksums)
    )
