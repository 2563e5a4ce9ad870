"""The checksums an S3 client may send with a body, and their verification as it streams.

A body may come with ``Content-MD5`` (base64 MD5), one ``x-amz-checksum-<algorithm>``
(base64 of the big-endian digest) either as a header or announced in ``x-amz-trailer`` and
sent after an ``aws-chunked`` body, and a signed ``x-amz-content-sha256``.

A body bound for the store (PutObject, UploadPart) is hashed there anyway: SHA-256 for its
content address and MD5 for its ETag. With ``store_checks`` those two are not hashed here
again; the values the client declared for them are handed over instead
(:attr:`BodyChecksums.declared_md5`, :attr:`~BodyChecksums.declared_digest`), the store
refuses bytes that do not match them with a ``ChecksumMismatchError``, and
:meth:`BodyChecksums.mismatch` names that refusal with the code S3 gives it. Without
``store_checks`` (small XML bodies that go nowhere) every check is made here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from typing import Protocol

from awscrt import checksums as crt  # type: ignore[import-untyped]

from sangraha_core import ChecksumMismatchError, Digest

from ._errors import S3Error

__all__ = ["ALGORITHMS", "BodyChecksums", "Hasher", "new_hasher"]

_CHECKSUM_PREFIX = "x-amz-checksum-"
# Headers under the prefix that name no checksum of this body.
_NOT_CHECKSUMS = frozenset({"algorithm", "mode", "type"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Hasher(Protocol):
    """What :mod:`hashlib` objects are, as far as the gateway uses them."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC of ``width`` bytes, from a function ``(data, previous) -> crc``."""

    def __init__(self, step: Callable[[bytes, int], int], width: int) -> None:
        self._step = step
        self._width = width
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._step(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def _crc32c(data: bytes, previous: int) -> int:
    return int(crt.crc32c(data, previous))


def _crc64nvme(data: bytes, previous: int) -> int:
    return int(crt.crc64nvme(data, previous))


#: Each algorithm S3 takes, by its name in ``x-amz-checksum-<name>``, and a new hasher of it.
ALGORITHMS: dict[str, Callable[[], Hasher]] = {
    "crc32": lambda: _Crc(zlib.crc32, 4),
    "crc32c": lambda: _Crc(_crc32c, 4),
    "crc64nvme": lambda: _Crc(_crc64nvme, 8),
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}


def new_hasher(algorithm: str) -> Hasher:
    """A hasher of ``algorithm`` (lower case, as in :data:`ALGORITHMS`)."""
    return ALGORITHMS[algorithm]()


def _digest_size(algorithm: str) -> int:
    return len(new_hasher(algorithm).digest())


def _decode_base64(value: str, size: int, what: str) -> bytes:
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != size:
        raise S3Error("InvalidDigest", f"the {what} you specified is not valid: {value!r}")
    return decoded


class BodyChecksums:
    """The checksums one request's body must match, hashed block by block.

    Built from the request's headers (names in lower case), which it refuses at once if
    they ask for the impossible. Feed every payload block to :meth:`update`, then call
    :meth:`verify` with the trailers that came after the body, if any.

    With ``store_checks``, the Content-MD5, the signed ``x-amz-content-sha256`` and an
    ``x-amz-checksum-sha256`` header are left to the store the bytes go to: they are not
    hashed here but exposed as :attr:`declared_md5` and :attr:`declared_digest`, and
    :attr:`md5_hex` is not known. Other checksums, and any sent in a trailer, are still
    computed here.

    :raises S3Error: ``InvalidDigest`` for a value that is no digest, ``InvalidRequest``
        for an unknown algorithm or more than one checksum, ``InvalidArgument`` for an
        ``x-amz-content-sha256`` that is none of the forms S3 takes.
    """

    def __init__(self, headers: Mapping[str, str], *, store_checks: bool = False) -> None:
        self._store_checks = store_checks
        self._md5: Hasher | None = None if store_checks else hashlib.md5(usedforsecurity=False)
        self._md5_expected: bytes | None = None
        if "content-md5" in headers:
            self._md5_expected = _decode_base64(headers["content-md5"], 16, "Content-MD5")
        self._sha256_expected = _signed_sha256(headers.get("x-amz-content-sha256"))
        named = [name for name in headers if name.startswith(_CHECKSUM_PREFIX)]
        given = [n[len(_CHECKSUM_PREFIX) :] for n in named]
        given = [algorithm for algorithm in given if algorithm not in _NOT_CHECKSUMS]
        announced = _trailer_checksums(headers.get("x-amz-trailer", ""))
        algorithms = given + announced
        for algorithm in algorithms:
            if algorithm not in ALGORITHMS:
                raise S3Error(
                    "InvalidRequest", f"{_CHECKSUM_PREFIX}{algorithm} is not a checksum S3 knows"
                )
        if len(algorithms) > 1:
            raise S3Error("InvalidRequest", "expecting a single x-amz-checksum- header or trailer")
        sdk = headers.get("x-amz-sdk-checksum-algorithm")
        if sdk is not None:
            sdk = sdk.strip().lower()
            if sdk not in ALGORITHMS or (algorithms and algorithms != [sdk]):
                raise S3Error(
                    "InvalidRequest", f"x-amz-sdk-checksum-algorithm {sdk!r} is not valid here"
                )
            algorithms = [sdk]
        #: The algorithm of the one checksum the body has, or ``None``.
        self.algorithm: str | None = algorithms[0] if algorithms else None
        #: The trailer the checksum is sent in, to be given to :meth:`verify`; or ``None``.
        self.trailer: str | None = f"{_CHECKSUM_PREFIX}{announced[0]}" if announced else None
        self._expected: bytes | None = None
        if given:
            name = f"{_CHECKSUM_PREFIX}{given[0]}"
            self._expected = _decode_base64(headers[name], _digest_size(given[0]), name)
        #: The Content-MD5 in lowercase hex, for the store to check; only with ``store_checks``.
        self.declared_md5: str | None = None
        #: The SHA-256 the body must have, for the store to check; only with ``store_checks``.
        self.declared_digest: Digest | None = None
        # Which of the declared SHA-256 values the store checks, to name its refusal.
        self._declared_signed = False
        self._response: dict[str, str] = {}
        hashed = self.algorithm
        if store_checks:
            if self._md5_expected is not None:
                self.declared_md5 = self._md5_expected.hex()
            if self._sha256_expected is not None:
                self.declared_digest = Digest.from_hex(self._sha256_expected)
                self._declared_signed = True
            if self.algorithm == "sha256" and self._expected is not None:
                header = Digest.from_bytes(self._expected)
                if self.declared_digest is None:
                    self.declared_digest = header
                if self.declared_digest == header:
                    # The store's verdict stands for this checksum too: nothing to hash here.
                    hashed = None
                    self._response = {f"{_CHECKSUM_PREFIX}sha256": header.to_base64()}
        self._hasher = new_hasher(hashed) if hashed else None
        # A signed SHA-256 and an x-amz-checksum-sha256 share one pass.
        self._sha256: Hasher | None = None
        if self._sha256_expected is not None and not store_checks:
            self._sha256 = self._hasher if self.algorithm == "sha256" else hashlib.sha256()
        self._verified = False
        self._md5_hex: str | None = None

    def update(self, block: bytes) -> None:
        """Hash the next block of the payload (decoded, never the ``aws-chunked`` framing)."""
        if self._md5 is not None:
            self._md5.update(block)
        if self._hasher is not None:
            self._hasher.update(block)
        if self._sha256 is not None and self._sha256 is not self._hasher:
            self._sha256.update(block)

    def verify(self, trailers: Mapping[str, str] | None = None) -> None:
        """Check every checksum against what was hashed; call once, after the last block.

        :param trailers: the trailers after the body (names in lower case).
        :raises S3Error: ``BadDigest`` for a checksum that does not match,
            ``XAmzContentSHA256Mismatch`` for the signed SHA-256, ``IncompleteBody`` for a
            trailer announced but not sent.
        """
        if self._md5 is not None:
            md5 = self._md5.digest()
            if self._md5_expected is not None and md5 != self._md5_expected:
                raise S3Error("BadDigest", _MD5_MISMATCH)
            self._md5_hex = md5.hex()
        if self._sha256 is not None and self._sha256.digest().hex() != self._sha256_expected:
            raise S3Error("XAmzContentSHA256Mismatch", _SIGNED_MISMATCH)
        expected = self._expected
        if self.trailer is not None:
            value = (trailers or {}).get(self.trailer)
            if value is None:
                raise S3Error(
                    "IncompleteBody", f"the body ended without the trailer {self.trailer}"
                )
            assert self.algorithm is not None
            expected = _decode_base64(value, _digest_size(self.algorithm), self.trailer)
        if self._hasher is not None:
            assert self.algorithm is not None
            actual = self._hasher.digest()
            if expected is not None and actual != expected:
                raise S3Error("BadDigest", _checksum_mismatch(self.algorithm))
            encoded = base64.b64encode(actual).decode()
            self._response = {f"{_CHECKSUM_PREFIX}{self.algorithm}": encoded}
        self._verified = True

    def mismatch(self, error: ChecksumMismatchError) -> S3Error:
        """The S3 error for the store's refusal of bytes unlike :attr:`declared_digest` or
        :attr:`declared_md5`: ``XAmzContentSHA256Mismatch`` for the signed SHA-256,
        ``BadDigest`` for the Content-MD5 or an ``x-amz-checksum-sha256`` header."""
        if self.declared_md5 is not None and error.expected.lower() == self.declared_md5:
            return S3Error("BadDigest", _MD5_MISMATCH)
        if self.declared_digest is not None and error.expected == self.declared_digest:
            if self._declared_signed:
                return S3Error("XAmzContentSHA256Mismatch", _SIGNED_MISMATCH)
            return S3Error("BadDigest", _checksum_mismatch("sha256"))
        return S3Error("BadDigest", str(error))

    @property
    def md5_hex(self) -> str:
        """The payload's MD5 in hex (S3's ETag of a single-part object); after :meth:`verify`.

        :raises RuntimeError: before :meth:`verify`, or with ``store_checks`` (the store
            works the MD5 out).
        """
        if self._store_checks:
            raise RuntimeError("the MD5 is left to the store")
        if self._md5_hex is None:
            raise RuntimeError("the checksums are not verified yet")
        return self._md5_hex

    @property
    def response_headers(self) -> dict[str, str]:
        """The checksum headers the answer echoes (``{"x-amz-checksum-crc32": "…"}``);
        empty when the client sent none. After :meth:`verify`."""
        if not self._verified:
            raise RuntimeError("the checksums are not verified yet")
        return dict(self._response)


_MD5_MISMATCH = "the Content-MD5 you specified did not match what we received"
_SIGNED_MISMATCH = "the x-amz-content-sha256 you specified did not match what we received"


def _checksum_mismatch(algorithm: str) -> str:
    return f"the {algorithm.upper()} you specified did not match the calculated checksum"


def _signed_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value == "UNSIGNED-PAYLOAD" or value.startswith("STREAMING-"):
        return None
    if not _SHA256_HEX.fullmatch(value):
        raise S3Error(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-…, "
            "or a lowercase hex SHA-256",
        )
    return value


def _trailer_checksums(value: str) -> list[str]:
    algorithms = []
    for name in (part.strip().lower() for part in value.split(",")):
        if not name:
            continue
        if not name.startswith(_CHECKSUM_PREFIX):
            raise S3Error("InvalidRequest", f"the trailer {name!r} is not supported")
        algorithms.append(name[len(_CHECKSUM_PREFIX) :])
    return algorithms
