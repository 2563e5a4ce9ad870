"""Content digests: the ``sha256:<hex>`` value, streaming hashers, and the storage key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ._constants import BLOB_PREFIX
from ._exceptions import ChecksumMismatchError, ObjectTooLargeError

__all__ = ["Digest", "DigestedStream", "Hasher", "blob_key"]

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


class DigestedStream:
    """Chunks passed through as they are read, hashed and counted on the way.

    The stream refuses itself from inside, so the blob store reading it aborts its write and
    keeps nothing: once past ``limit`` bytes (if given), and at its end when the bytes do not match
    ``expected`` (or ``expected_md5``, a lowercase or uppercase MD5 hex, as S3's Content-MD5
    decoded). With ``md5`` the MD5 is worked out in the same pass (:meth:`md5_hex`). A store
    that must name a part's checksum before sending it (S3) takes :meth:`digest` once it has
    read the stream to its end, rather than hash it again.
    """

    __slots__ = ("_chunks", "_expected", "_expected_md5", "_hasher", "_limit", "_md5", "_what")

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        limit: int | None = None,
        expected: Digest | None = None,
        what: str = "the body",
        md5: bool = False,
        expected_md5: str | None = None,
    ) -> None:
        self._chunks = iter(chunks)
        self._hasher = Hasher()
        self._limit = limit
        self._expected = expected
        self._what = what
        # MD5 only where a protocol names bytes by it (S3's ETag); hashed in the same pass.
        wants_md5 = md5 or expected_md5 is not None
        self._md5 = hashlib.md5(usedforsecurity=False) if wants_md5 else None
        self._expected_md5 = None if expected_md5 is None else expected_md5.lower()

    @property
    def size(self) -> int:
        """Bytes read so far."""
        return self._hasher.size

    def digest(self) -> Digest:
        """The digest of the bytes read so far: the whole stream's, once it has ended."""
        return self._hasher.digest()

    def md5_hex(self) -> str | None:
        """The MD5 (lowercase hex) of the bytes read so far, if the stream was asked for it
        (``md5=True`` or ``expected_md5``); else ``None``."""
        return None if self._md5 is None else self._md5.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        for chunk in self._chunks:
            if not chunk:
                continue
            if (limit := self._limit) is not None and self._hasher.size + len(chunk) > limit:
                raise ObjectTooLargeError(f"{self._what} may be at most {limit} bytes", limit=limit)
            self._hasher.update(chunk)
            if self._md5 is not None:
                self._md5.update(chunk)
            return chunk
        if self._expected is not None and self._expected != (actual := self.digest()):
            raise ChecksumMismatchError(
                f"{self._what}'s digest is {actual}, not the declared {self._expected}",
                expected=str(self._expected),
                actual=str(actual),
            )
        if self._expected_md5 is not None and self._expected_md5 != (md5 := self.md5_hex()):
            raise ChecksumMismatchError(
                f"{self._what}'s MD5 is {md5}, not the declared {self._expected_md5}",
                expected=self._expected_md5,
                actual=str(md5),
            )
        raise StopIteration


def blob_key(digest: Digest) -> str:
    """The one place a digest becomes a storage key: ``blobs/sha256/ab/cd/<hex>``."""
    h = digest.hex
    return f"{BLOB_PREFIX}/{h[:2]}/{h[2:4]}/{h}"
