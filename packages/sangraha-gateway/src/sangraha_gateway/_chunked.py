"""Request bodies as S3 clients send them: plain, or ``aws-chunked`` with chunk signatures
and trailers; decoded and checked as they stream, in memory of one chunk at most.

Which form a body has is said by ``x-amz-content-sha256`` (``STREAMING-…``) or
``Content-Encoding: aws-chunked``. Every body goes through :func:`decoded_body`, which also
checks its checksums (:class:`~._checksums.BodyChecksums`), or, for a body bound for the
store, hands the MD5 and SHA-256 the client declared over to the store, which hashes the
bytes with those anyway (``store_checks``); the framing is read in :mod:`._chunk_framing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from sangraha_core import ChecksumMismatchError, Digest
from sangraha_core.access import (
    STREAMING_SIGNED_PAYLOAD,
    STREAMING_SIGNED_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    StreamingSignature,
)

from ._checksums import BodyChecksums
from ._chunk_framing import MAX_CHUNK_SIZE, MAX_LINE, check_end, check_size, chunks
from ._errors import S3Error

__all__ = [
    "MAX_CHUNK_SIZE",
    "MAX_LINE",
    "CheckedBody",
    "decoded_body",
    "stored_content_encoding",
]

_SIGNED = frozenset({STREAMING_SIGNED_PAYLOAD, STREAMING_SIGNED_PAYLOAD_TRAILER})


class CheckedBody:
    """A request's payload, decoded and checked as it is iterated (once).

    Iteration raises an :class:`S3Error` as soon as the body proves wrong; :attr:`size`,
    :attr:`md5_hex` and :attr:`response_headers` are there once it has run to its end.
    """

    def __init__(self, blocks: Iterator[bytes], checks: BodyChecksums) -> None:
        self._blocks = blocks
        self._checks = checks
        self._size = 0
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        for block in self._blocks:
            self._size += len(block)
            yield block
        self._complete = True

    @property
    def complete(self) -> bool:
        """The body was read to its end and every check passed."""
        return self._complete

    @property
    def size(self) -> int:
        """The payload's length in bytes (decoded: without the chunk framing)."""
        self._require_complete()
        return self._size

    @property
    def md5_hex(self) -> str:
        """The payload's MD5 in hex, the ETag of a single-part object; not known with
        ``store_checks`` (:class:`RuntimeError`)."""
        self._require_complete()
        return self._checks.md5_hex

    @property
    def declared_md5(self) -> str | None:
        """With ``store_checks``, the Content-MD5 (lowercase hex) the store must check."""
        return self._checks.declared_md5

    @property
    def declared_digest(self) -> Digest | None:
        """With ``store_checks``, the SHA-256 the store must check: the signed
        ``x-amz-content-sha256`` or an ``x-amz-checksum-sha256`` header."""
        return self._checks.declared_digest

    def mismatch(self, error: ChecksumMismatchError) -> S3Error:
        """The S3 error for the store refusing the bytes as unlike what was declared."""
        return self._checks.mismatch(error)

    @property
    def response_headers(self) -> dict[str, str]:
        """The checksum headers the answer echoes, e.g. ``{"x-amz-checksum-crc32": "…"}``."""
        self._require_complete()
        return self._checks.response_headers

    def _require_complete(self) -> None:
        if not self._complete:
            raise RuntimeError("the body has not been read to its end")


def decoded_body(
    headers: Mapping[str, str],
    blocks: Iterable[bytes],
    streaming: StreamingSignature | None,
    *,
    max_size: int | None = None,
    store_checks: bool = False,
) -> CheckedBody:
    """The payload of a request whose headers (names in lower case) are ``headers`` and
    whose raw body arrives as ``blocks`` (of any size, split anywhere).

    :param streaming: the request's :attr:`~sangraha_core.access.Identity.streaming`: the
        chunk signatures are checked against it; required for ``STREAMING-AWS4-HMAC-…``.
    :param max_size: the most payload bytes taken (``EntityTooLarge`` past it).
    :param store_checks: leave the MD5 and the declared SHA-256 to the store the payload is
        given to, with :attr:`CheckedBody.declared_md5` and
        :attr:`~CheckedBody.declared_digest`; see :class:`~._checksums.BodyChecksums`.
    :raises S3Error: at once for headers that cannot describe a valid body; from the
        iteration for a body that breaks them.
    """
    checks = BodyChecksums(headers, store_checks=store_checks)
    payload_hash = headers.get("x-amz-content-sha256", "").strip()
    encodings = [part.strip().lower() for part in headers.get("content-encoding", "").split(",")]
    chunked = payload_hash.startswith("STREAMING-") or "aws-chunked" in encodings
    declared = _length(headers, "x-amz-decoded-content-length" if chunked else "content-length")
    if declared is not None and max_size is not None and declared > max_size:
        raise S3Error("EntityTooLarge", f"the body is larger than {max_size} bytes")
    if not chunked:
        if checks.trailer is not None:
            raise S3Error("InvalidRequest", "x-amz-trailer needs an aws-chunked body")
        return CheckedBody(_plain(blocks, checks, declared, max_size), checks)
    signed = payload_hash in _SIGNED
    if payload_hash.startswith("STREAMING-") and not (
        signed or payload_hash == STREAMING_UNSIGNED_PAYLOAD_TRAILER
    ):
        raise S3Error("InvalidArgument", f"{payload_hash} bodies are not supported")
    if not payload_hash.startswith("STREAMING-") and payload_hash not in ("", "UNSIGNED-PAYLOAD"):
        raise S3Error("InvalidRequest", "an aws-chunked body cannot have a single SHA-256")
    if signed and streaming is None:
        raise S3Error("AccessDenied", f"{payload_hash} needs a request signed with SigV4")
    if not signed and streaming is not None:
        raise S3Error("InvalidRequest", f"chunk signatures do not go with {payload_hash!r}")
    if payload_hash == STREAMING_SIGNED_PAYLOAD and checks.trailer is not None:
        raise S3Error("InvalidRequest", f"{payload_hash} bodies carry no trailers")
    decoder = chunks(
        blocks,
        checks,
        streaming,
        signed_trailers=payload_hash == STREAMING_SIGNED_PAYLOAD_TRAILER,
        declared=declared,
        max_size=max_size,
    )
    return CheckedBody(decoder, checks)


def _length(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        raise S3Error("InvalidArgument", f"{name} must be a whole number of bytes: {value!r}")
    return int(value)


def _plain(
    blocks: Iterable[bytes], checks: BodyChecksums, declared: int | None, max_size: int | None
) -> Iterator[bytes]:
    size = 0
    for block in blocks:
        if block:
            size += len(block)
            check_size(size, declared, max_size)
            checks.update(block)
            yield block
    check_end(size, declared)
    checks.verify()


def stored_content_encoding(value: str | None) -> str | None:
    """The ``Content-Encoding`` to keep with the object: the request's, without the
    ``aws-chunked`` that was only the transfer's; ``None`` when nothing is left."""
    if value is None:
        return None
    kept = [part.strip() for part in value.split(",") if part.strip().lower() != "aws-chunked"]
    kept = [part for part in kept if part]
    return ",".join(kept) or None
