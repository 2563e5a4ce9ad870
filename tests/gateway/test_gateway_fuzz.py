"""Schema-free requests against a running gateway: whatever the method, path, query and
headers, the answer is never a 500 and always comes (no hang), and every refusal is S3's
``<Error>`` document."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway._support import Deployment

METHODS = st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"])

FLAGS = [
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "list-type",
    "location",
    "versioning",
    "acl",
    "tagging",
    "versionId",
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "continuation-token",
    "start-after",
    "encoding-type",
    "max-parts",
    "part-number-marker",
    "max-uploads",
    "key-marker",
    "upload-id-marker",
    "fetch-owner",
    "response-content-type",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
]
VALUES = st.one_of(
    st.sampled_from(
        ["", "1", "2", "0", "-1", "10001", "99999999999", "url", "*", "%", "a/b", "a\r\nb", "\x00"]
    ),
    st.text(max_size=12),
)
QUERY = st.lists(st.tuples(st.sampled_from(FLAGS), st.one_of(st.none(), VALUES)), max_size=4)

HEADERS = [
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "content-md5",
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "content-encoding",
    "content-type",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-metadata-directive",
    "x-amz-meta-x",
    "x-amz-date",
    "authorization",
    "expect",
]
# What h11 lets a client send in a header: printable ASCII, no whitespace at either end.
PRINTABLE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            "bytes=0-1",
            "bytes=-1",
            "bytes=5-2",
            "*",
            '"abc"',
            "aws-chunked",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "UNSIGNED-PAYLOAD",
            "AAAAAA==",
            "x-amz-checksum-crc32",
            "100-continue",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
            "/b/k",
            "REPLACE",
            "0",
            "-5",
        ]
    ),
    PRINTABLE,
)
BODIES = st.one_of(
    st.just(b""),
    st.sampled_from(
        [
            b"<Delete><Object><Key>a</Key></Object></Delete>",
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
            b"</CompleteMultipartUpload>",
            b"0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"{}",
        ]
    ),
    st.binary(max_size=64),
)
SEGMENTS = st.one_of(
    st.sampled_from(["", "k", "a/b", "%ff", "%2F", "..", ".", "_sangraha", "a%00b", "~"]),
    st.text(max_size=10).map(lambda t: quote(t, safe="/")),
)


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> Iterator[httpx.Client]:
    bucket = deployment.bucket()
    deployment.s3().put_object(Bucket=bucket, Key="k", Body=b"fuzzed object")
    with httpx.Client(base_url=deployment.s3_url, timeout=30) as http:
        http.headers["x-fuzz-bucket"] = bucket
        yield http


@pytest.fixture(scope="module")
def secured_client(secured: Deployment) -> Iterator[httpx.Client]:
    bucket = secured.bucket()
    s3 = secured.s3(*secured.key(f"{bucket}:read,list,write,delete"))
    s3.put_object(Bucket=bucket, Key="k", Body=b"fuzzed object")
    with httpx.Client(base_url=secured.s3_url, timeout=30) as http:
        http.headers["x-fuzz-bucket"] = bucket
        yield http


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=METHODS,
    bucket=st.one_of(st.just("{bucket}"), st.just(""), SEGMENTS),
    # The object that exists, often: most query flags and headers matter only on it.
    key=st.one_of(st.none(), st.just("k"), SEGMENTS),
    query=QUERY,
    headers=st.lists(st.tuples(st.sampled_from(HEADERS), HEADER_VALUES), max_size=4),
    body=BODIES,
)
def test_no_request_is_a_server_error(
    client: httpx.Client,
    method: str,
    bucket: str,
    key: str | None,
    query: list[tuple[str, str | None]],
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    real = client.headers["x-fuzz-bucket"]
    path = "/" + bucket.replace("{bucket}", real)
    if key is not None:
        path += "/" + key
    if query:
        path += "?" + "&".join(
            quote(name) if value is None else f"{quote(name)}={quote(value)}"
            for name, value in query
        )
    sent = dict(headers)
    content = body if method in ("PUT", "POST") else None
    try:
        answer = client.request(method, path, headers=sent, content=content)
    except httpx.TimeoutException:
        pytest.fail(f"no answer to {method} {path} {sent}")
    # 501 is NotImplemented, an answer; 500 is a failure and a gateway error a hang.
    assert answer.status_code < 500 or answer.status_code == 501, (method, path, sent, answer.text)
    if answer.status_code >= 400 and method != "HEAD" and not path.startswith("/_sangraha"):
        assert answer.headers.get("content-type", "").startswith("application/xml"), (
            method,
            path,
            sent,
            answer.status_code,
            answer.text,
        )
        root = ET.fromstring(answer.content)
        assert root.tag == "Error"
        assert root.findtext("Code")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=METHODS,
    key=st.one_of(st.none(), SEGMENTS),
    query=QUERY,
    authorization=st.one_of(
        st.none(),
        st.sampled_from(
            [
                "AWS4-HMAC-SHA256",
                "AWS4-HMAC-SHA256 Credential=",
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
                "AWS AKID:c2lnbmF0dXJl",
                "AWS :",
                "Bearer nothing",
                "Basic Zm9vOmJhcg==",
            ]
        ),
        HEADER_VALUES,
    ),
    amz_date=st.one_of(
        st.none(), st.sampled_from(["20260101T000000Z", "20260101", "garbage"]), PRINTABLE
    ),
)
def test_no_unproven_request_is_a_server_error(
    secured_client: httpx.Client,
    method: str,
    key: str | None,
    query: list[tuple[str, str | None]],
    authorization: str | None,
    amz_date: str | None,
) -> None:
    path = "/" + secured_client.headers["x-fuzz-bucket"]
    if key is not None:
        path += "/" + key
    if query:
        path += "?" + "&".join(
            quote(name) if value is None else f"{quote(name)}={quote(value)}"
            for name, value in query
        )
    headers: dict[str, str] = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if amz_date is not None:
        headers["x-amz-date"] = amz_date
    answer = secured_client.request(method, path, headers=headers)
    assert answer.status_code < 500 or answer.status_code == 501, (method, path, headers)
    # Nothing here proves a key: no operation may succeed.
    assert answer.status_code >= 400, (method, path, headers, answer.status_code)
    if method != "HEAD":
        root = ET.fromstring(answer.content)
        assert root.tag == "Error", answer.text
