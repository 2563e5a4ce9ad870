"""Rules for bucket names, object keys and user metadata, with errors that say what is wrong."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from ._constants import MAX_BUCKET_LENGTH, MAX_KEY_LENGTH
from ._exceptions import InvalidMetadataError, InvalidNameError

__all__ = ["validate_bucket", "validate_key", "validate_metadata"]

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_META_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
#: Printable ASCII but the backslash: what nearly every key is made of, and every blob
#: store key Sangraha makes itself, checked in one match instead of a lookup a character.
_PLAIN_KEY_RE = re.compile(r"[\x20-\x5b\x5d-\x7e]*")


def validate_bucket(name: str) -> str:
    if not 3 <= len(name) <= MAX_BUCKET_LENGTH:
        raise InvalidNameError(
            f"bucket name must be 3 to {MAX_BUCKET_LENGTH} characters, got {len(name)}"
        )
    if not _BUCKET_RE.fullmatch(name):
        raise InvalidNameError(
            "bucket name may hold only lowercase letters, digits, '.' and '-', "
            "and must start and end with a letter or digit"
        )
    if ".." in name:
        raise InvalidNameError("bucket name must not contain '..'")
    return name


def validate_key(key: str) -> str:
    if not key:
        raise InvalidNameError("object key must not be empty")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_LENGTH:
        raise InvalidNameError(f"object key must be at most {MAX_KEY_LENGTH} bytes of UTF-8")
    for ch in "" if _PLAIN_KEY_RE.fullmatch(key) else key:
        if unicodedata.category(ch) in ("Cc", "Cs", "Cn") or ch == "\\":
            raise InvalidNameError(
                f"object key must not contain control characters, backslashes or "
                f"unassigned code points (found U+{ord(ch):04X})"
            )
    if key.startswith("/"):
        raise InvalidNameError("object key must not start with '/'")
    for segment in key.split("/"):
        if segment in (".", ".."):
            raise InvalidNameError("object key must not contain '.' or '..' path segments")
    if "//" in key:
        raise InvalidNameError("object key must not contain empty path segments ('//')")
    return key


def validate_metadata(
    metadata: Mapping[str, str], *, max_entries: int, max_bytes: int
) -> dict[str, str]:
    if len(metadata) > max_entries:
        raise InvalidMetadataError(
            f"at most {max_entries} metadata entries are allowed, got {len(metadata)}"
        )
    total = 0
    clean: dict[str, str] = {}
    for name, value in metadata.items():
        lowered = name.lower()
        if not _META_NAME_RE.fullmatch(lowered) or len(lowered) > 128:
            raise InvalidMetadataError(
                f"metadata name {name!r} must be 1-128 characters of letters, digits, '_' and '-'"
            )
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            raise InvalidMetadataError(f"metadata value of {name!r} contains control characters")
        total += len(lowered) + len(value.encode("utf-8", "surrogatepass"))
        clean[lowered] = value
    if total > max_bytes:
        raise InvalidMetadataError(f"metadata may total at most {max_bytes} bytes, got {total}")
    return clean
