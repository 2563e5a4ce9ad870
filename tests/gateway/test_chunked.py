"""Request bodies as S3 clients frame them: botocore's own aws-chunked bodies, AWS's
published signed-chunk examples and bodies signed chunk by chunk, split at any point,
tampered with or cut short, each refused with S3's code."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import tracemalloc
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore import httpchecksum
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from sangraha_core.access import (
    AccessKey,
    Authenticator,
    Grant,
    KeyEntry,
    SignedRequest,
    StreamingSignature,
)
from sangraha_gateway._checksums import new_hasher
from sangraha_gateway._chunked import (
    MAX_CHUNK_SIZE,
    CheckedBody,
    decoded_body,
    stored_content_encoding,
)
from sangraha_gateway._errors import S3Error

ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]
BOTOCORE = {
    "crc32": httpchecksum.Crc32Checksum,
    "crc32c": httpchecksum.CrtCrc32cChecksum,
    "crc64nvme": httpchecksum.CrtCrc64NvmeChecksum,
    "sha1": httpchecksum.Sha1Checksum,
    "sha256": httpchecksum.Sha256Checksum,
}
UNSIGNED = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"

# AWS's "sigv4-streaming" and "sigv4-streaming-trailers" examples.
DOC_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_TIME = datetime(2013, 5, 24, tzinfo=UTC)
DOC_CHUNKS = (
    (65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
    (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
    (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
)
DOC_TRAILER_CHUNKS = (
    (65536, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"),
    (1024, "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"),
    (0, "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"),
)
DOC_TRAILERS = (
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
)


class _Sent(Exception):
    """Raised where botocore would send, to keep the request it built."""


def botocore_put(body: Any, **params: Any) -> tuple[dict[str, str], bytes]:
    """The headers and raw body boto3 sends for a PutObject, with its default settings."""
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="SECRET",
        endpoint_url="https://127.0.0.1:9",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    sent: dict[str, Any] = {}

    def before_send(request: Any, **_: Any) -> None:
        sent["headers"] = {
            name.lower(): value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        raw = request.body
        sent["body"] = raw.read() if hasattr(raw, "read") else raw
        raise _Sent

    client.meta.events.register("before-send.s3.PutObject", before_send)
    with pytest.raises(_Sent):
        client.put_object(Bucket="docs", Key="a", Body=body, **params)
    return sent["headers"], sent["body"] or b""


def wrapped(
    data: bytes, algorithm: str = "crc32", chunk_size: int = 7
) -> tuple[dict[str, str], bytes]:
    """An unsigned-trailer body in small chunks, framed by botocore's AwsChunkedWrapper."""
    name = f"x-amz-checksum-{algorithm}"
    body = httpchecksum.AwsChunkedWrapper(
        io.BytesIO(data), BOTOCORE[algorithm], name, chunk_size=chunk_size
    ).read()
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": UNSIGNED,
        "x-amz-trailer": name,
        "x-amz-decoded-content-length": str(len(data)),
    }
    return headers, body


def doc_streaming(*, trailer: bool) -> StreamingSignature:
    """The documented request, verified, and so its chunk signatures' seed."""
    if trailer:
        signed = (
            "content-encoding;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer"
        )
        seed, extra = (
            "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
            [
                ("x-amz-content-sha256", SIGNED_TRAILER),
                ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ],
        )
    else:
        signed = (
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class"
        )
        seed, extra = (
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            [
                ("x-amz-content-sha256", SIGNED),
                ("content-length", "66824"),
            ],
        )
    scope = f"{DOC_KEY_ID}/20130524/us-east-1/s3/aws4_request"
    request = SignedRequest(
        "PUT",
        "/examplebucket/chunkObject.txt",
        "",
        [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            (
                "authorization",
                f"AWS4-HMAC-SHA256 Credential={scope},SignedHeaders={signed},Signature={seed}",
            ),
            *extra,
        ],
    )
    key = AccessKey(
        key_id=DOC_KEY_ID, grants=(Grant.parse("examplebucket:write"),), sealed_secret=""
    )
    auth = Authenticator(clock=lambda: DOC_TIME, allow_streaming=True)
    streaming = auth.authenticate(request, lambda key_id: KeyEntry(key, DOC_SECRET)).streaming
    assert streaming is not None
    return streaming


def doc_body(*, trailer: bool) -> tuple[dict[str, str], bytes]:
    body = b"".join(
        b"%x;chunk-signature=%s\r\n%s\r\n" % (size, signature.encode(), b"a" * size)
        for size, signature in (DOC_TRAILER_CHUNKS if trailer else DOC_CHUNKS)
    )
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "x-amz-content-sha256": SIGNED_TRAILER if trailer else SIGNED,
    }
    if trailer:
        # The final chunk's CRLF is the trailers' end: they go between.
        body = body[:-2] + DOC_TRAILERS + b"\r\n"
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
    return headers, body


def signed_body(
    data: bytes, streaming: StreamingSignature, chunk_size: int, *, checksum: str | None = None
) -> tuple[dict[str, str], bytes]:
    """A body signed chunk by chunk (with a signed checksum trailer if ``checksum``)."""
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    out, previous = [], streaming.seed
    for piece in pieces:
        previous = streaming.chunk_signature(previous, hashlib.sha256(piece).hexdigest())
        out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(piece), previous.encode(), piece))
    body = b"".join(out)
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-content-sha256": SIGNED,
    }
    if checksum is not None:
        hasher = new_hasher(checksum)
        hasher.update(data)
        line = f"x-amz-checksum-{checksum}:{base64.b64encode(hasher.digest()).decode()}"
        signature = streaming.trailer_signature(previous, f"{line}\n".encode())
        trailers = f"{line}\r\nx-amz-trailer-signature:{signature}\r\n".encode()
        body = body[:-2] + trailers + b"\r\n"
        headers["x-amz-content-sha256"] = SIGNED_TRAILER
        headers["x-amz-trailer"] = f"x-amz-checksum-{checksum}"
    return headers, body


def split(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = sorted({0, len(body), *(min(cut, len(body)) for cut in cuts)})
    return [body[start:end] for start, end in itertools.pairwise(bounds)]


def decode(
    headers: dict[str, str],
    blocks: Iterable[bytes],
    streaming: StreamingSignature | None = None,
    **options: Any,
) -> tuple[bytes, CheckedBody]:
    body = decoded_body(headers, blocks, streaming, **options)
    return b"".join(body), body


def code_of(
    headers: dict[str, str],
    body: bytes | Iterable[bytes],
    streaming: StreamingSignature | None = None,
    **options: Any,
) -> str:
    blocks = [body] if isinstance(body, bytes) else body
    with pytest.raises(S3Error) as caught:
        decode(headers, blocks, streaming, **options)
    return caught.value.code


def flipped(body: bytes, at: int) -> bytes:
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]


# Bodies as boto3 sends them


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_boto3_body_decodes_with_its_checksum_trailer(algorithm: str) -> None:
    data = bytes(range(256)) * 9000  # over two of botocore's 1 MiB chunks
    headers, body = botocore_put(data, ChecksumAlgorithm=algorithm)
    assert headers["x-amz-content-sha256"] == UNSIGNED
    assert headers["content-encoding"] == "aws-chunked"
    payload, checked = decode(headers, split(body, range(0, len(body), 65536)))
    assert payload == data
    assert checked.size == len(data)
    assert checked.md5_hex == hashlib.md5(data).hexdigest()
    name = f"x-amz-checksum-{algorithm.lower()}"
    sent = body.rsplit(b"\r\n", 3)[-3].decode()
    assert checked.response_headers == {name: sent.partition(":")[2]}


def test_a_boto3_body_of_unknown_length_and_content_md5_decodes() -> None:
    data = b"0123456789" * 1000
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    headers, body = botocore_put(io.BufferedReader(io.BytesIO(data)), ContentMD5=md5)
    payload, checked = decode(headers, [body])
    assert payload == data and checked.md5_hex == hashlib.md5(data).hexdigest()
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    headers, body = botocore_put(data, ContentMD5=bad)
    assert code_of(headers, body) == "BadDigest"


def test_a_boto3_body_with_its_checksum_in_a_header_is_plain() -> None:
    headers, body = botocore_put(b"hello", ChecksumCRC32="NhCmhg==")
    assert "content-encoding" not in headers and body == b"hello"
    payload, checked = decode(headers, [b"he", b"llo"])
    assert payload == b"hello"
    assert checked.response_headers == {"x-amz-checksum-crc32": "NhCmhg=="}
    assert code_of(headers, b"hellO") == "XAmzContentSHA256Mismatch"
    headers.pop("x-amz-content-sha256")
    assert code_of(headers, b"hellO") == "BadDigest"


def test_a_boto3_request_authenticates_and_its_body_decodes() -> None:
    data = b"signed by boto3" * 100
    headers, body = botocore_put(data, ChecksumAlgorithm="CRC32C")
    request = SignedRequest("PUT", "/docs/a", "", list(headers.items()))
    key = AccessKey(key_id="AKID", grants=(Grant.parse("docs:write"),), sealed_secret="")
    auth = Authenticator(allow_streaming=True)
    identity = auth.authenticate(request, lambda key_id: KeyEntry(key, "SECRET"))
    assert identity.streaming is None and identity.payload_sha256 is None
    payload, checked = decode(headers, [body], identity.streaming)
    assert payload == data and "x-amz-checksum-crc32c" in checked.response_headers


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=80),
    algorithm=st.sampled_from(sorted(BOTOCORE)),
    chunk_size=st.integers(1, 20),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_a_wrapped_body_split_anywhere_decodes_the_same(
    data: bytes, algorithm: str, chunk_size: int, cuts: list[int]
) -> None:
    headers, body = wrapped(data, algorithm, chunk_size)
    payload, checked = decode(headers, split(body, cuts))
    assert payload == data and checked.size == len(data)
    assert checked.md5_hex == hashlib.md5(data).hexdigest()


def test_a_body_split_at_every_single_byte_decodes() -> None:
    headers, body = wrapped(b"some data that spans chunks", "crc32c", 5)
    assert decode(headers, [body[i : i + 1] for i in range(len(body))])[0] == (
        b"some data that spans chunks"
    )


# AWS's published signed examples, and bodies signed chunk by chunk


@pytest.mark.parametrize("trailer", [False, True])
def test_the_documented_signed_bodies_decode(trailer: bool) -> None:
    headers, body = doc_body(trailer=trailer)
    if not trailer:
        assert len(body) == 66824  # the example's Content-Length
    payload, checked = decode(
        headers, split(body, range(0, len(body), 1000)), doc_streaming(trailer=trailer)
    )
    assert payload == b"a" * 66560
    expected = {"x-amz-checksum-crc32c": "sOO8/Q=="} if trailer else {}
    assert checked.response_headers == expected


@pytest.mark.parametrize("trailer", [False, True])
def test_the_documented_signed_bodies_tampered_are_refused(trailer: bool) -> None:
    headers, body = doc_body(trailer=trailer)
    streaming = doc_streaming(trailer=trailer)
    data_at = body.index(b"\r\n") + 2 + 70
    assert code_of(headers, flipped(body, data_at), streaming) == "SignatureDoesNotMatch"
    signature_at = body.index(b"chunk-signature=", 100) + 20
    assert code_of(headers, flipped(body, signature_at), streaming) == "SignatureDoesNotMatch"
    other = doc_streaming(trailer=not trailer)
    assert code_of(headers, body, other) == "SignatureDoesNotMatch"  # another seed
    if trailer:
        trailer_signature_at = body.index(b"x-amz-trailer-signature:") + 30
        assert code_of(headers, flipped(body, trailer_signature_at), streaming) == (
            "SignatureDoesNotMatch"
        )
        # A checksum changed to another valid one breaks the trailers' signature.
        changed = body.replace(b"sOO8/Q==", b"sOO8/A==")
        assert code_of(headers, changed, streaming) == "SignatureDoesNotMatch"


def test_no_unproven_chunk_reaches_the_consumer() -> None:
    headers, body = doc_body(trailer=False)
    second = body.index(b"400;chunk-signature=")
    received: list[bytes] = []
    with pytest.raises(S3Error, match="signature"):
        for block in decoded_body(
            headers, [flipped(body, second + 100)], doc_streaming(trailer=False)
        ):
            received.append(block)
    assert b"".join(received) == b"a" * 65536


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(max_size=60),
    chunk_size=st.integers(1, 16),
    checksum=st.sampled_from([None, "crc32", "crc64nvme", "sha256"]),
    cuts=st.lists(st.integers(0, 1200), max_size=10),
)
def test_a_signed_body_split_anywhere_decodes_the_same(
    data: bytes, chunk_size: int, checksum: str | None, cuts: list[int]
) -> None:
    streaming = doc_streaming(trailer=False)
    headers, body = signed_body(data, streaming, chunk_size, checksum=checksum)
    payload, checked = decode(headers, split(body, cuts), streaming)
    assert payload == data
    assert bool(checked.response_headers) == (checksum is not None)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=40), chunk_size=st.integers(1, 16), at=st.integers(0))
def test_any_flipped_byte_of_a_signed_body_is_refused(
    data: bytes, chunk_size: int, at: int
) -> None:
    streaming = doc_streaming(trailer=False)
    headers, body = signed_body(data, streaming, chunk_size, checksum="crc32")
    with pytest.raises(S3Error):
        decode(headers, [flipped(body, at % len(body))], streaming)


# Bodies cut short, too long, or malformed


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0), signed=st.booleans())
def test_every_prefix_of_a_body_is_incomplete(cut: int, signed: bool) -> None:
    streaming = doc_streaming(trailer=False) if signed else None
    if streaming is not None:
        headers, body = signed_body(b"0123456789abcdef", streaming, 5, checksum="sha1")
    else:
        headers, body = wrapped(b"0123456789abcdef", "sha1", 5)
    assert code_of(headers, body[: cut % len(body)], streaming) == "IncompleteBody"


def test_bytes_after_the_end_are_refused() -> None:
    headers, body = wrapped(b"data", "crc32")
    assert code_of(headers, body + b"x") == "InvalidRequest"
    assert code_of(headers, [body, b"", b"\r\n"]) == "InvalidRequest"


def test_a_decoded_length_must_be_the_payloads() -> None:
    headers, body = wrapped(b"0123456789", "crc32")
    assert code_of({**headers, "x-amz-decoded-content-length": "11"}, body) == "IncompleteBody"
    assert code_of({**headers, "x-amz-decoded-content-length": "9"}, body) == "InvalidRequest"
    assert code_of({**headers, "x-amz-decoded-content-length": "-1"}, body) == "InvalidArgument"
    del headers["x-amz-decoded-content-length"]
    assert decode(headers, [body])[0] == b"0123456789"


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nab\r\n0\r\n\r\n",
        b"-2\r\nab\r\n0\r\n\r\n",
        b"+2\r\nab\r\n0\r\n\r\n",
        b" 2\r\nab\r\n0\r\n\r\n",
        b"\r\nab\r\n0\r\n\r\n",
        b"2\nab\r\n0\r\n\r\n0\r\n\r\n",
        b"2\r\nabX\r\n0\r\n\r\n",
        b"2\r\nab0\r\n\r\n",
        b"%x\r\n" % (MAX_CHUNK_SIZE + 1),
        b"1" * 5000,
        b"2\r\nab\r\n0\r\n" + b"x-amz-meta-a:" + b"b" * 5000 + b"\r\n\r\n",
        b"2\r\nab\r\n0\r\nno colon here\r\n\r\n",
    ],
)
def test_malformed_framing_is_an_invalid_request(body: bytes) -> None:
    headers = {"content-encoding": "aws-chunked", "x-amz-content-sha256": UNSIGNED}
    assert code_of(headers, body) == "InvalidRequest"


def test_trailers_must_be_announced_and_sent_once() -> None:
    headers, body = wrapped(b"ab", "crc32", 5)
    extra = body[:-2] + b"x-amz-meta-late:1\r\n\r\n"
    assert code_of(headers, extra) == "InvalidRequest"
    name = b"x-amz-checksum-crc32:"
    line = body[body.index(name) : -2]
    assert code_of(headers, body[:-2] + line + b"\r\n") == "InvalidRequest"
    assert code_of(headers, body[: body.index(name)] + b"\r\n") == "IncompleteBody"
    checksum_at = body.index(name) + len(name) + 1
    tampered = (
        body[:checksum_at]
        + (b"B" if body[checksum_at] != ord("B") else b"C")
        + body[checksum_at + 1 :]
    )
    assert code_of(headers, tampered) == "BadDigest"


def test_a_flipped_data_byte_of_an_unsigned_body_fails_its_checksum() -> None:
    headers, body = wrapped(b"0123456789", "crc64nvme", 4)
    assert code_of(headers, body.replace(b"4567", b"4667")) == "BadDigest"


def test_signed_bodies_need_their_signatures() -> None:
    streaming = doc_streaming(trailer=False)
    headers, body = signed_body(b"abc", streaming, 2, checksum="crc32")
    assert code_of(headers, body, None) == "AccessDenied"
    no_signature = body.replace(b";chunk-signature=", b";chunk-signaturX=", 1)
    assert code_of(headers, no_signature, streaming) == "SignatureDoesNotMatch"
    cut = body.index(b"x-amz-trailer-signature")
    assert code_of(headers, body[:cut] + b"\r\n", streaming) == "SignatureDoesNotMatch"
    unsigned_headers, unsigned = wrapped(b"abc")
    assert code_of(unsigned_headers, unsigned, streaming) == "InvalidRequest"
    plain, _ = signed_body(b"abc", streaming, 2)
    assert code_of({**plain, "x-amz-trailer": "x-amz-checksum-crc32"}, body, streaming) == (
        "InvalidRequest"
    )


def test_unknown_streaming_forms_are_refused() -> None:
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"}
    assert code_of(headers, b"0\r\n\r\n") == "InvalidArgument"
    single = {"content-encoding": "aws-chunked", "x-amz-content-sha256": "0" * 64}
    assert code_of(single, b"0\r\n\r\n") == "InvalidRequest"


# Plain bodies, limits and memory


def test_a_plain_body_is_checked_against_its_length_and_headers() -> None:
    data = b"plain body"
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    headers = {"content-length": str(len(data)), "content-md5": md5}
    payload, checked = decode(headers, [data[:3], b"", data[3:]])
    assert payload == data and checked.size == len(data) and checked.response_headers == {}
    assert code_of(headers, data[:-1]) == "IncompleteBody"
    assert code_of(headers, data + b"!") == "InvalidRequest"
    assert code_of({**headers, "x-amz-trailer": "x-amz-checksum-crc32"}, data) == "InvalidRequest"
    assert code_of({"content-md5": md5}, data.upper()) == "BadDigest"


def test_a_body_over_the_limit_is_too_large() -> None:
    headers, body = wrapped(b"0123456789", "crc32", 3)
    assert code_of(headers, body, max_size=9) == "EntityTooLarge"
    del headers["x-amz-decoded-content-length"]
    assert code_of(headers, body, max_size=9) == "EntityTooLarge"
    assert decode(headers, [body], max_size=10)[0] == b"0123456789"
    assert code_of({}, [b"12345", b"67890"], max_size=9) == "EntityTooLarge"


def test_results_are_there_only_at_the_end() -> None:
    headers, body = wrapped(b"abc")
    checked = decoded_body(headers, [body], None)
    with pytest.raises(RuntimeError):
        _ = checked.md5_hex
    assert b"".join(checked) == b"abc" and checked.complete


def _lazily(size: int, block: int) -> Iterator[bytes]:
    # 1 MiB chunks, framed as they are asked for, in network-sized blocks.
    chunk = 1 << 20
    for start in range(0, size, chunk):
        framed = b"%x\r\n%s\r\n" % (chunk, bytes([start >> 20 & 0xFF]) * chunk)
        for i in range(0, len(framed), block):
            yield framed[i : i + block]
    yield b"0\r\n\r\n"


def test_memory_does_not_grow_with_the_body() -> None:
    headers = {"content-encoding": "aws-chunked", "x-amz-content-sha256": UNSIGNED}
    tracemalloc.start()
    try:
        total = sum(len(block) for block in decoded_body(headers, _lazily(48 << 20, 65536), None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 48 << 20
    assert peak < 4 << 20  # a few blocks; the generator's own chunk is one of them


def test_the_stored_content_encoding_drops_aws_chunked() -> None:
    assert stored_content_encoding("aws-chunked") is None
    assert stored_content_encoding("aws-chunked, gzip") == "gzip"
    assert stored_content_encoding("gzip,aws-chunked") == "gzip"
    assert stored_content_encoding(None) is None
