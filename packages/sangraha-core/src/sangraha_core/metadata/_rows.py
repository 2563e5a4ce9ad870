"""Rows to models and back, and the opaque listing cursor: the store's pure helpers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row

from .._digest import Digest
from .._exceptions import InvalidRequestError
from .._models import (
    FailureKind,
    ObjectKind,
    ObjectRecord,
    ObjectStatus,
    Page,
    PartRecord,
    UploadSession,
    UploadStatus,
)

__all__ = [
    "RecordPage",
    "decode_cursor",
    "encode_cursor",
    "object_row",
    "part_values",
    "record_from_mapping",
    "record_from_row",
    "session_from_row",
    "successor",
]


def encode_cursor(key: str, object_id: str) -> str:
    raw = json.dumps([key, object_id], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


# Longer than any cursor encode_cursor makes (a key of at most 1,024 bytes, each byte at
# most doubled by JSON's escapes, plus the id, in base64): decoding a longer one would only
# spend time on bytes no page made.
_MAX_CURSOR = 4096


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError("longer than any cursor")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw.decode("utf-8"))
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
            key, object_id = value
            key.encode("utf-8")  # lone surrogates cannot reach the database
            return key, object_id
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        # RecursionError: JSON nested deeper than the parser goes, which no cursor is.
        pass
    raise InvalidRequestError(f"invalid cursor {cursor[:64]!r}: pass back a next_cursor value")


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be encoded; jump past them
                nxt = 0xE000
            return "".join(chars) + chr(nxt)
    return None


#: Parametrised once: building ``Page[ObjectRecord]`` anew costs more than a page query.
RecordPage = Page[ObjectRecord]


def record_from_row(row: Row[Any], metadata: dict[str, str]) -> ObjectRecord:
    return record_from_mapping(row._mapping, metadata)


def record_from_mapping(m: Mapping[Any, Any], metadata: dict[str, str]) -> ObjectRecord:
    """The record of an ``objects`` row given by column name, values already converted."""
    extracted = m["extracted"]
    return ObjectRecord(
        id=m["id"],
        bucket=m["bucket"],
        key=m["key"],
        status=ObjectStatus(m["status"]),
        kind=ObjectKind(m["kind"]),
        content_type=m["content_type"],
        size=m["size"],
        digest=Digest(m["digest"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        metadata=metadata,
        extracted={} if extracted == "{}" else json.loads(extracted),
        error=m["error"],
        failure_kind=None if m["failure_kind"] is None else FailureKind(m["failure_kind"]),
        etag=m["etag"],
    )


def object_row(record: ObjectRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "bucket": record.bucket,
        "key": record.key,
        "status": record.status.value,
        "kind": record.kind.value,
        "content_type": record.content_type,
        "size": record.size,
        "digest": str(record.digest),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "extracted": json.dumps(record.extracted),
        "error": record.error,
        "failure_kind": None if record.failure_kind is None else record.failure_kind.value,
        "etag": record.etag,
    }


def part_values(upload_id: str, part: PartRecord) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "number": part.number,
        "size": part.size,
        "etag": part.etag,
        "digest": str(part.digest),
        "md5": part.md5,
    }


def session_from_row(row: Row[Any], parts: Sequence[PartRecord]) -> UploadSession:
    m = row._mapping
    return UploadSession(
        id=m["id"],
        bucket=m["bucket"],
        key=m["key"],
        content_type=m["content_type"],
        kind=ObjectKind(m["kind"]),
        size=m["size"],
        digest=None if m["digest"] is None else Digest(m["digest"]),
        metadata=json.loads(m["metadata"]),
        status=UploadStatus(m["status"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        parts=list(parts),
        min_part_size=m["min_part_size"],
        max_part_size=m["max_part_size"],
        max_parts=m["max_parts"],
        object_id=m["object_id"],
        multipart_id=m["multipart_id"],
        type_from_bytes=bool(m["type_from_bytes"]),
        claimed_at=m.get("claimed_at"),
    )
