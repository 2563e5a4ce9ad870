"""How a Sangraha record looks in S3: its ETag, its time and its ``x-amz-meta-*`` headers."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from sangraha_core import ObjectRecord

__all__ = ["META_PREFIX", "meta_headers", "s3_etag", "user_metadata"]

#: S3's user metadata headers.
META_PREFIX = "x-amz-meta-"


def s3_etag(record: ObjectRecord) -> str:
    """The quoted ETag S3 clients see: the MD5 of an upload made through S3 (which boto3,
    the AWS CLI and rclone check), else the SHA-256 the v1 API keeps for every version."""
    return f'"{record.etag or record.digest.hex}"'


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-<name>: value`` headers as metadata (S3 names are lowercase)."""
    return {
        name[len(META_PREFIX) :]: _text_of(value)
        for name, value in headers.items()
        if name.lower().startswith(META_PREFIX)
    }


def _text_of(value: str) -> str:
    """A header value as the text the client meant: HTTP servers decode header bytes as
    Latin-1, but a client sending raw non-ASCII metadata (S3 accepts it) sends UTF-8."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def meta_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    """Metadata as ``x-amz-meta-*`` headers; a value that is not printable ASCII goes out
    RFC 2047-encoded, as S3 sends it."""
    headers: dict[str, str] = {}
    for name, value in metadata.items():
        if value.isascii() and value.isprintable():
            headers[META_PREFIX + name] = value
        else:
            encoded = base64.b64encode(value.encode()).decode()
            headers[META_PREFIX + name] = f"=?UTF-8?B?{encoded}?="
    return headers
