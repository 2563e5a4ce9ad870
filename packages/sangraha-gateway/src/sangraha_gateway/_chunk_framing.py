"""The ``aws-chunked`` framing: chunk headers, chunk signatures and trailers, read from raw
body blocks split anywhere, holding one chunk at most.

A body is a series of ``<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n`` ending with a
chunk of size 0, then trailer lines (``name:value\r\n``) and an empty line.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator

from sangraha_core.access import StreamingSignature

from ._checksums import BodyChecksums
from ._errors import S3Error

__all__ = ["MAX_CHUNK_SIZE", "MAX_LINE", "check_end", "check_size", "chunks"]

#: The longest chunk header or trailer line taken, CRLF excluded.
MAX_LINE = 4096
#: The largest chunk taken: SDKs send 64 KiB to 8 MiB.
MAX_CHUNK_SIZE = 16 * 1024 * 1024
_MAX_TRAILERS = 16
_CHUNK_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})((?:;[^\r\n]*)?)")
_SIGNATURE_EXTENSION = re.compile(rb";chunk-signature=([0-9a-f]{64})")
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


def _malformed(message: str) -> S3Error:
    return S3Error("InvalidRequest", f"the aws-chunked body is malformed: {message}")


def _incomplete(message: str) -> S3Error:
    return S3Error("IncompleteBody", message)


class _Reader:
    """The raw body, taken a line or a number of bytes at a time; holds at most a block
    and a partial line."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._buffer = bytearray()

    def _next(self) -> bytes | None:
        for block in self._blocks:
            if block:
                return block
        return None

    def _fill(self) -> bool:
        block = self._next()
        if block is None:
            return False
        self._buffer += block
        return True

    def line(self, what: str) -> bytes:
        """The next line, without its CRLF."""
        start = 0
        while True:
            end = self._buffer.find(b"\r\n", start)
            if end > MAX_LINE or (end < 0 and len(self._buffer) > MAX_LINE + 1):
                raise _malformed(f"a {what} line is longer than {MAX_LINE} bytes")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            # A CRLF may straddle two blocks: look again from its possible first half.
            start = max(0, len(self._buffer) - 1)
            if not self._fill():
                raise _incomplete(f"the body ended inside a {what} line")

    def take(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes, in pieces as they come."""
        while size > 0:
            if not self._buffer:
                block = self._next()
                if block is None:
                    raise _incomplete(f"the body ended {size} bytes before the end of a chunk")
                if len(block) <= size:
                    # Inside a chunk, blocks pass through as they came, uncopied.
                    size -= len(block)
                    yield block
                    continue
                self._buffer += block
            if len(self._buffer) <= size:
                piece = bytes(self._buffer)
                self._buffer.clear()
            else:
                piece = bytes(self._buffer[:size])
                del self._buffer[:size]
            size -= len(piece)
            yield piece

    def crlf(self) -> None:
        while len(self._buffer) < 2:
            if not self._fill():
                raise _incomplete("the body ended after a chunk's data, before its CRLF")
        if self._buffer[:2] != b"\r\n":
            raise _malformed("a chunk's data is not followed by CRLF (is its size right?)")
        del self._buffer[:2]

    def at_end(self) -> bool:
        return not self._buffer and not self._fill()


def check_size(size: int, declared: int | None, max_size: int | None) -> None:
    """Refuse a body grown past ``max_size`` or its ``declared`` length."""
    if max_size is not None and size > max_size:
        raise S3Error("EntityTooLarge", f"the body is larger than {max_size} bytes")
    if declared is not None and size > declared:
        raise S3Error("InvalidRequest", f"the body is longer than the {declared} bytes declared")


def check_end(size: int, declared: int | None) -> None:
    """Refuse a body that ended short of its ``declared`` length."""
    if declared is not None and size < declared:
        raise _incomplete(f"the body has {size} of the {declared} bytes declared")


def chunks(
    blocks: Iterable[bytes],
    checks: BodyChecksums,
    streaming: StreamingSignature | None,
    *,
    signed_trailers: bool,
    declared: int | None,
    max_size: int | None,
) -> Iterator[bytes]:
    """The payload of the ``aws-chunked`` body in ``blocks``, checked as it passes.

    :param streaming: check a signature on each chunk against it; ``None`` for none.
    :param signed_trailers: the trailers end with their signature (``…-PAYLOAD-TRAILER``).
    :param declared: ``x-amz-decoded-content-length``, if sent.
    """
    reader = _Reader(blocks)
    previous = streaming.seed if streaming is not None else ""
    size = 0
    while True:
        chunk_size, signature = _chunk_header(reader.line("chunk header"), streaming is not None)
        size += chunk_size
        check_size(size, declared, max_size)
        if streaming is None:
            for piece in reader.take(chunk_size):
                checks.update(piece)
                yield piece
        else:
            # A signed chunk is held until its signature is checked, so nothing unproven
            # reaches the consumer.
            pieces = list(reader.take(chunk_size))
            digest = hashlib.sha256()
            for piece in pieces:
                digest.update(piece)
            previous = _check_signature(
                streaming.chunk_signature(previous, digest.hexdigest()), signature, "a chunk"
            )
            for piece in pieces:
                checks.update(piece)
                yield piece
            del pieces
        if chunk_size == 0:
            break
        reader.crlf()
    trailers = _trailers(reader, checks, signed_trailers)
    if signed_trailers:
        assert streaming is not None
        sent = trailers.pop(_TRAILER_SIGNATURE, None)
        if sent is None:
            raise S3Error("SignatureDoesNotMatch", "the trailers are not signed")
        canonical = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()))
        expected = streaming.trailer_signature(previous, canonical.encode())
        _check_signature(expected, sent.encode(), "the trailers")
    if not reader.at_end():
        raise _malformed("there are bytes after its end")
    check_end(size, declared)
    checks.verify(trailers)


def _chunk_header(line: bytes, signed: bool) -> tuple[int, bytes]:
    match = _CHUNK_HEADER.fullmatch(line)
    if match is None:
        raise _malformed(f"{line[:40]!r} is no chunk size")
    size = int(match[1], 16)
    if size > MAX_CHUNK_SIZE:
        raise _malformed(f"a chunk of {size} bytes is larger than {MAX_CHUNK_SIZE}")
    if not signed:
        return size, b""
    extension = _SIGNATURE_EXTENSION.fullmatch(match[2])
    if extension is None:
        raise S3Error("SignatureDoesNotMatch", "a chunk has no chunk-signature")
    return size, extension[1]


def _check_signature(expected: str, sent: bytes, what: str) -> str:
    if not hmac.compare_digest(expected.encode(), sent):
        raise S3Error(
            "SignatureDoesNotMatch",
            f"the signature of {what} does not match the one calculated with your key",
        )
    return expected


def _trailers(reader: _Reader, checks: BodyChecksums, signed: bool) -> dict[str, str]:
    allowed = {checks.trailer, _TRAILER_SIGNATURE if signed else None} - {None}
    trailers: dict[str, str] = {}
    while line := reader.line("trailer"):
        name_bytes, colon, value_bytes = line.partition(b":")
        try:
            name = name_bytes.decode("ascii").strip().lower()
            value = value_bytes.decode("ascii").strip()
        except UnicodeDecodeError:
            raise _malformed("a trailer is not ASCII") from None
        if not colon or not name:
            raise _malformed(f"the trailer line {line[:40]!r} is not name:value")
        if name not in allowed or name in trailers or len(trailers) >= _MAX_TRAILERS:
            raise S3Error(
                "InvalidRequest", f"the trailer {name} was not announced in x-amz-trailer"
            )
        trailers[name] = value
    return trailers
