"""What an upload's headers say: its type, declared digest, user metadata, idempotency key.

Every malformed header is refused (400) rather than ignored: a client that meant to send a
checksum and got it wrong must not have the upload accepted unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import Headers

from sangraha_core import (
    Digest,
    InvalidMetadataError,
    InvalidRequestError,
    ObjectTooLargeError,
    decode_header_value,
)
from sangraha_core.wire import (
    CONTENT_DIGEST_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    META_HEADER_PREFIX,
    SHA256_HEADER,
)

__all__ = [
    "UploadHeaders",
    "check_content_length",
    "declared_digest",
    "parse_content_digest",
    "parse_idempotency_key",
    "parse_sha256_hex",
    "parse_upload_headers",
    "user_metadata",
]

MAX_IDEMPOTENCY_KEY = 255

_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_SF_KEY_RE = re.compile(r"[a-z*][a-z0-9_.*-]*")
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class UploadHeaders:
    content_type: str
    declared_digest: Digest | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


def parse_upload_headers(headers: Headers) -> UploadHeaders:
    """Everything an upload takes from its headers; the core validates names and limits."""
    # None at all is the bucket's to judge: a validated bucket refuses it (415), an ``any``
    # bucket stores the object as application/octet-stream.
    content_type = headers.get("content-type", "").strip()
    return UploadHeaders(
        content_type=content_type,
        declared_digest=declared_digest(headers),
        metadata=user_metadata(headers),
        idempotency_key=parse_idempotency_key(headers.get(IDEMPOTENCY_KEY_HEADER)),
    )


def check_content_length(value: str | None, limit: int) -> int | None:
    """The body's declared length, refused early if too large (the stream check still
    decides); None if the body did not say."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise InvalidRequestError(
            f"Content-Length must be a non-negative integer, got {value[:80]!r}"
        )
    # More digits than any limit has is over it: never int() thousands of digits (slow,
    # and refused by Python past 4,300).
    significant = text.lstrip("0")
    if len(significant) > len(str(limit)) or int(significant or "0") > limit:
        raise ObjectTooLargeError(f"objects may be at most {limit} bytes", limit=limit)
    return int(significant or "0")


def declared_digest(headers: Headers) -> Digest | None:
    from_rfc = None
    lines = headers.getlist(CONTENT_DIGEST_HEADER)
    if lines:
        from_rfc = parse_content_digest(", ".join(lines))
    plain = headers.get(SHA256_HEADER)
    from_hex = parse_sha256_hex(plain) if plain is not None else None
    if from_rfc is not None and from_hex is not None and from_rfc != from_hex:
        raise InvalidRequestError("Content-Digest and X-Sangraha-SHA256 declare different digests")
    return from_rfc or from_hex


def parse_content_digest(value: str) -> Digest | None:
    """The SHA-256 of an RFC 9530 ``Content-Digest`` (``sha-256=:<base64>:``), if present.

    Other algorithms are allowed and ignored, but every member must be well formed.
    """
    found: Digest | None = None
    for raw_member in value.split(","):
        member = raw_member.strip()
        name, sep, rest = member.partition("=")
        name = name.strip()
        item = rest.split(";", 1)[0].strip()  # parameters carry nothing we use
        if (
            not sep
            or not _SF_KEY_RE.fullmatch(name)
            or len(item) < 2
            or not item.startswith(":")
            or not item.endswith(":")
        ):
            raise InvalidRequestError(
                f"malformed Content-Digest member {member!r}; want sha-256=:<base64>:"
            )
        if name == "sha-256":
            try:
                found = Digest.from_base64(item[1:-1])
            except ValueError:
                raise InvalidRequestError(
                    "Content-Digest sha-256 must be the base64 of 32 bytes"
                ) from None
    return found


def parse_sha256_hex(value: str) -> Digest:
    """``X-Sangraha-SHA256: <64 hex digits>``."""
    text = value.strip()
    if not _HEX_RE.fullmatch(text):
        raise InvalidRequestError("X-Sangraha-SHA256 must be 64 hexadecimal digits")
    return Digest.from_hex(text)


def parse_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_IDEMPOTENCY_KEY or not _PRINTABLE_RE.fullmatch(value):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return value


def user_metadata(headers: Headers) -> dict[str, str]:
    """``X-Sangraha-Meta-<name>: <value>`` headers as ``{name: value}``.

    A value is raw UTF-8 or, for text HTTP cannot carry as it is, the RFC 8187 form
    ``UTF-8''<percent-encoded UTF-8>`` that reads answer with (malformed: a 400).

    Names and sizes are checked by the core; a name sent twice is refused here, because
    silently keeping one value would lose the other.
    """
    metadata: dict[str, str] = {}
    for raw_name, raw_value in headers.raw:
        name = raw_name.decode("latin-1").lower()
        if not name.startswith(META_HEADER_PREFIX):
            continue
        short = name[len(META_HEADER_PREFIX) :]
        if short in metadata:
            raise InvalidMetadataError(f"metadata {short!r} is sent more than once")
        try:
            text = raw_value.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidMetadataError(f"metadata value of {short!r} is not UTF-8") from None
        metadata[short] = decode_header_value(text)
    return metadata
