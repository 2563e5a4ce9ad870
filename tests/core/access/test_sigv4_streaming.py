"""Streaming SigV4 (``aws-chunked`` bodies): the seed, chunk and trailer signatures, checked
against AWS's published examples, and the S3 codes the authenticator's refusals carry."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sangraha_core import AccessKeyNotFoundError, Settings, UnauthenticatedError, utcnow
from sangraha_core.access import (
    AccessGuard,
    AccessKey,
    Authenticator,
    Grant,
    KeyEntry,
    MasterKey,
    SignedRequest,
    sign_headers,
)

# The example of AWS's "sigv4-streaming" and "sigv4-streaming-trailers" pages.
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = datetime(2013, 5, 24, tzinfo=UTC)
SCOPE = "20130524/us-east-1/s3/aws4_request"
CHUNKS = (b"a" * 65536, b"a" * 1024, b"")
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
TRAILER_CHUNK_SIGNATURES = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def doc_request(*, trailer: bool) -> SignedRequest:
    if trailer:
        signed = (
            "content-encoding;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer"
        )
        payload, seed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", TRAILER_SEED
        extra = [("x-amz-trailer", "x-amz-checksum-crc32c")]
    else:
        signed = (
            "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class"
        )
        payload, seed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", SEED
        extra = [("content-length", "66824")]
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={KEY_ID}/{SCOPE},SignedHeaders={signed},Signature={seed}"
    )
    return SignedRequest(
        method="PUT",
        path="/examplebucket/chunkObject.txt",
        query="",
        headers=[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", authorization),
            ("x-amz-content-sha256", payload),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            *extra,
        ],
    )


def entry(*, revoked: bool = False) -> KeyEntry:
    key = AccessKey(
        key_id=KEY_ID,
        grants=(Grant.parse("examplebucket:write"),),
        created_at=WHEN.replace(year=2012),
        revoked_at=WHEN if revoked else None,
        sealed_secret="",
    )
    return KeyEntry(key, SECRET)


def lookup(key_id: str) -> KeyEntry | None:
    return entry() if key_id == KEY_ID else None


def streaming_authenticator() -> Authenticator:
    return Authenticator(clock=lambda: WHEN, allow_streaming=True)


def code_of(request: SignedRequest, auth: Authenticator, found: KeyEntry | None = None) -> str:
    with pytest.raises(UnauthenticatedError) as caught:
        auth.authenticate(request, lambda key_id: found)
    assert caught.value.code is not None
    return caught.value.code


def test_the_documented_chunk_signatures_chain_from_the_documented_seed() -> None:
    identity = streaming_authenticator().authenticate(doc_request(trailer=False), lookup)
    assert identity.payload_sha256 is None
    streaming = identity.streaming
    assert streaming is not None
    assert (streaming.seed, streaming.timestamp, streaming.scope) == (
        SEED,
        "20130524T000000Z",
        SCOPE,
    )
    previous = streaming.seed
    for chunk, expected in zip(CHUNKS, CHUNK_SIGNATURES, strict=True):
        previous = streaming.chunk_signature(previous, hashlib.sha256(chunk).hexdigest())
        assert previous == expected


def test_the_documented_trailer_signature_follows_the_last_chunk() -> None:
    identity = streaming_authenticator().authenticate(doc_request(trailer=True), lookup)
    streaming = identity.streaming
    assert streaming is not None and streaming.seed == TRAILER_SEED
    previous = streaming.seed
    for chunk, expected in zip(CHUNKS, TRAILER_CHUNK_SIGNATURES, strict=True):
        previous = streaming.chunk_signature(previous, hashlib.sha256(chunk).hexdigest())
        assert previous == expected
    trailers = b"x-amz-checksum-crc32c:sOO8/Q==\n"
    assert streaming.trailer_signature(previous, trailers) == TRAILER_SIGNATURE
    assert streaming.trailer_signature(previous, b"x-amz-checksum-crc32c:sOO8/Q=\n") != (
        TRAILER_SIGNATURE
    )


def test_a_wrong_previous_signature_gives_another_chunk_signature() -> None:
    identity = streaming_authenticator().authenticate(doc_request(trailer=False), lookup)
    streaming = identity.streaming
    assert streaming is not None
    digest = hashlib.sha256(CHUNKS[0]).hexdigest()
    assert streaming.chunk_signature(CHUNK_SIGNATURES[0], digest) != CHUNK_SIGNATURES[0]
    assert (
        streaming.chunk_signature(SEED, hashlib.sha256(b"b").hexdigest()) != (CHUNK_SIGNATURES[0])
    )


def test_the_signing_key_stays_out_of_the_repr() -> None:
    identity = streaming_authenticator().authenticate(doc_request(trailer=False), lookup)
    assert identity.streaming is not None
    assert identity.streaming.key.hex() not in repr(identity)
    assert "key=" not in repr(identity.streaming)


def test_streaming_bodies_are_refused_unless_allowed() -> None:
    auth = Authenticator(clock=lambda: WHEN)
    assert code_of(doc_request(trailer=False), auth, entry()) == "InvalidArgument"


def test_an_unsigned_trailer_body_has_no_chunk_signatures_and_no_body_hash() -> None:
    headers = sign_headers(
        "PUT",
        "http://127.0.0.1:9000/docs/a.txt",
        key_id=KEY_ID,
        secret=SECRET,
        region="us-east-1",
        now=WHEN,
        headers={"x-amz-trailer": "x-amz-checksum-crc32", "content-encoding": "aws-chunked"},
        payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    request = SignedRequest(
        method="PUT",
        path="/docs/a.txt",
        query="",
        headers=[
            ("host", "127.0.0.1:9000"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("content-encoding", "aws-chunked"),
            *headers.items(),
        ],
    )
    identity = streaming_authenticator().authenticate(request, lookup)
    assert identity.streaming is None and identity.payload_sha256 is None
    assert identity.principal.key_id == KEY_ID


def test_payloads_signed_with_another_algorithm_are_refused() -> None:
    request = doc_request(trailer=False)
    headers = [
        (name, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" if name == "x-amz-content-sha256" else v)
        for name, v in request.headers
    ]
    altered = SignedRequest(request.method, request.path, request.query, headers)
    assert code_of(altered, streaming_authenticator(), entry()) == "InvalidArgument"


def test_refusals_carry_the_s3_code() -> None:
    auth = streaming_authenticator()
    request = doc_request(trailer=False)
    assert code_of(request, auth, None) == "InvalidAccessKeyId"
    assert code_of(request, auth, entry(revoked=True)) == "InvalidAccessKeyId"
    assert code_of(request, auth, KeyEntry(entry().key, "another secret")) == (
        "SignatureDoesNotMatch"
    )
    late = Authenticator(clock=lambda: WHEN.replace(hour=1), allow_streaming=True)
    assert code_of(request, late, entry()) == "RequestTimeTooSkewed"
    anonymous = SignedRequest("GET", "/examplebucket", "", [("host", "s3.amazonaws.com")])
    assert code_of(anonymous, auth) == "AccessDenied"
    sigv2 = SignedRequest(
        "GET", "/", "", [("host", "s3.amazonaws.com"), ("authorization", "AWS AK:c2ln")]
    )
    # SigV2 is checked like SigV4 (tests/core/access/test_sigv2.py): first the key.
    assert code_of(sigv2, auth) == "InvalidAccessKeyId"


def test_an_unauthenticated_error_without_a_code_is_as_it_was() -> None:
    error = UnauthenticatedError("no key")
    assert str(error) == "no key" and error.args == ("no key",) and error.code is None
    assert UnauthenticatedError("x", code="InvalidAccessKeyId").code == "InvalidAccessKeyId"


class OneKey:
    """The ``AccessKeys`` reads the ring makes, for the one documented key."""

    def __init__(self, master: MasterKey) -> None:
        self.key = entry().key.model_copy(update={"sealed_secret": master.seal(KEY_ID, SECRET)})

    def get_access_key(self, key_id: str) -> AccessKey:
        if key_id != KEY_ID:
            raise AccessKeyNotFoundError(key_id)
        return self.key

    def touch_access_key(self, key_id: str, at: datetime) -> None:
        pass


def test_the_guard_passes_allow_streaming_on(tmp_path: Path) -> None:
    master = MasterKey.generate()[0]
    settings = Settings(data_dir=tmp_path)
    headers = sign_headers(
        "PUT",
        "http://127.0.0.1:9000/docs/a.txt",
        key_id=KEY_ID,
        secret=SECRET,
        region=settings.region,
        now=utcnow(),
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    )
    request = SignedRequest(
        "PUT", "/docs/a.txt", "", [("host", "127.0.0.1:9000"), *headers.items()]
    )
    store = OneKey(master)
    allowed = AccessGuard(settings, store, master, allow_streaming=True)  # type: ignore[arg-type]
    streaming = allowed.authenticate(request, blocking=True).streaming
    assert streaming is not None and streaming.seed in headers["authorization"]
    refused = AccessGuard(settings, store, master)  # type: ignore[arg-type]
    with pytest.raises(UnauthenticatedError) as caught:
        refused.authenticate(request, blocking=True)
    assert caught.value.code == "InvalidArgument"


def test_a_whole_token_pasted_as_the_key_id_is_not_repeated_back() -> None:
    # A bearer token set as AWS_ACCESS_KEY_ID: the refusal must not echo its secret.
    secret = "s" * 40
    pasted = f"AWS {KEY_ID}.{secret}:c2ln"
    sigv2 = SignedRequest("GET", "/", "", [("host", "s3.amazonaws.com"), ("authorization", pasted)])
    with pytest.raises(UnauthenticatedError) as caught:
        streaming_authenticator().authenticate(sigv2, lambda key_id: None)
    message = str(caught.value)
    assert secret not in message and secret[:8] not in message
    assert KEY_ID in message and "part before the '.'" in message
