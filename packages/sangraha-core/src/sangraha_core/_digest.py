"""Content digests: the ``sha256:<hex>`` value, a streaming hasher, and the storage key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ._constants import BLOB_PREFIX

__all__ = ["Digest", "Hasher", "blob_key"]

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


class Digest(str):
    """A SHA-256 content digest written ``sha256:<64 lowercase hex>``.

    A ``str`` subclass, so it serialises and compares as its text.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or not _DIGEST_RE.fullmatch(value):
            raise ValueError(f"not a digest (want 'sha256:' and 64 lowercase hex): {value!r}")
        return super().__new__(cls, value)

    @classmethod
    def from_hex(cls, hex_digest: str) -> Self:
        return cls("sha256:" + hex_digest.lower())

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        if len(raw) != 32:
            raise ValueError(f"a SHA-256 digest is 32 bytes, got {len(raw)}")
        return cls("sha256:" + raw.hex())

    @classmethod
    def from_base64(cls, text: str) -> Self:
        """Parse the base64 form used by ``Content-Digest`` and S3 checksums."""
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"not base64: {text!r}") from exc
        return cls.from_bytes(raw)

    @classmethod
    def of(cls, data: bytes) -> Self:
        return cls("sha256:" + hashlib.sha256(data).hexdigest())

    @property
    def hex(self) -> str:
        return self[7:]

    def to_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.hex)).decode("ascii")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=_DIGEST_RE.pattern),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


class Hasher:
    """Hash a stream as it passes, counting its bytes."""

    __slots__ = ("_hash", "size")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def digest(self) -> Digest:
        return Digest("sha256:" + self._hash.hexdigest())


def blob_key(digest: Digest) -> str:
    """The one place a digest becomes a storage key: ``blobs/sha256/ab/cd/<hex>``."""
    h = digest.hex
    return f"{BLOB_PREFIX}/{h[:2]}/{h[2:4]}/{h}"
