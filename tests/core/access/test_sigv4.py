"""SigV4 checked against botocore's own signers: what botocore signs verifies, what is
altered fails with S3's error code, and what we sign is what botocore signs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from unittest import mock
from urllib.parse import quote

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from sangraha_core.access import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    RequestExpired,
    SignatureError,
    SignedRequest,
    SigV4Credentials,
    parse_authorization,
    presign,
    sign_headers,
    verify,
)
from tests.core.access._requests import ENDPOINT, from_url, object_url, wire, with_header

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY="
REGION = "us-east-1"
NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)

KEYS = [
    "plain.txt",
    "with space",
    "two  spaces and\ttab",
    "ünïcødé/ключ/鍵",
    "emoji 😀",
    "a+b",
    "a=b&c",
    "tilde~",
    "%2F literal",
    "dir/sub/file.json",
    "semi;colon,comma:at@",
    "q?mark#hash",
    "star*paren()'!$",
    "trailing/",
]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    # botocore signs with the AWS common runtime when awscrt is installed (the S3 gateway
    # needs it); its signers order a presigned query differently. The comparisons here are
    # with botocore's own Python signers, the reference either way.
    python_signers = {
        "v4": botocore.auth.SigV4Auth,
        "v4-query": botocore.auth.SigV4QueryAuth,
        "s3v4": botocore.auth.S3SigV4Auth,
        "s3v4-query": botocore.auth.S3SigV4QueryAuth,
    }
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=NOW),
        mock.patch.dict(botocore.auth.AUTH_TYPE_MAPS, python_signers),
    ):
        yield


def credentials() -> Credentials:
    return Credentials(KEY_ID, SECRET)


def s3_client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def header_signed(
    method: str = "GET",
    url: str = object_url("a"),
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    signer: type[SigV4Auth] = S3SigV4Auth,
    service: str = "s3",
    unsigned_payload: bool = False,
) -> SignedRequest:
    request = AWSRequest(method, url, data=body, headers=headers or {})
    if unsigned_payload:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer(credentials(), service, REGION).add_auth(request)
    return wire(request)


def presigned(method: str = "GET", key: str = "a", expires: int = 300, **params: Any) -> str:
    operation = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object"}[method]
    url: str = s3_client().generate_presigned_url(
        operation, Params={"Bucket": "docs", "Key": key, **params}, ExpiresIn=expires
    )
    return url


def check(request: SignedRequest, secret: str = SECRET, **options: Any) -> SigV4Credentials:
    found = parse_authorization(request)
    assert found is not None
    verify(request, found, secret, now=options.pop("now", NOW), region=REGION, **options)
    return found


def code_of(request: SignedRequest, **options: Any) -> str:
    with pytest.raises(SignatureError) as raised:
        check(request, **options)
    return raised.value.code


# -- the header form -----------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_a_botocore_signed_get_verifies_and_signs_the_empty_body(key: str) -> None:
    found = check(header_signed("GET", object_url(key)))
    assert (found.key_id, found.region, found.service) == (KEY_ID, REGION, "s3")
    assert found.payload_sha256 == EMPTY_SHA256 and not found.presigned
    assert found.request_time == NOW


@pytest.mark.parametrize("key", KEYS)
def test_a_botocore_signed_put_hands_back_the_body_hash(key: str) -> None:
    body = f"body of {key}".encode()
    request = header_signed(
        "PUT",
        object_url(key),
        body=body,
        headers={"Content-Type": "text/plain", "X-Amz-Meta-Note": "  spaced   out  "},
    )
    found = check(request)
    assert found.payload_sha256 == hashlib.sha256(body).hexdigest()
    assert "x-amz-meta-note" in found.signed_headers


def test_an_unsigned_payload_leaves_the_body_unchecked() -> None:
    found = check(header_signed("PUT", object_url("big"), body=b"x", unsigned_payload=True))
    assert found.payload_hash == UNSIGNED_PAYLOAD and found.payload_sha256 is None


@pytest.mark.parametrize(
    "query",
    [
        "list-type=2&prefix=a%20b",
        "a=1&a=0&b=&c",  # repeated names, an empty value, a name alone
        "uploads",
        "prefix=%2F%2B%3D~&delimiter=%2F",
        "k=%E2%9C%93&K=upper",
    ],
)
def test_query_strings_are_canonical_as_aws_sorts_them(query: str) -> None:
    check(header_signed("GET", f"{ENDPOINT}/docs?{query}"))


def test_query_parameters_botocore_encodes_itself_verify() -> None:
    request = AWSRequest(
        "GET",
        f"{ENDPOINT}/docs",
        params={"prefix": "a b+c/é", "marker": "x=y&z", "tilde": "~", "empty": ""},
    )
    S3SigV4Auth(credentials(), "s3", REGION).add_auth(request)
    check(wire(request))


def test_repeated_and_spaced_headers_are_joined_and_trimmed() -> None:
    request = header_signed("GET", object_url("a"), headers={"X-Amz-Meta-A": "\t a   b \t"})
    # A second value of a signed header changes what was signed.
    doubled = replace(request, headers=[*request.headers, ("x-amz-meta-a", "c")])
    assert code_of(doubled) == "SignatureDoesNotMatch"
    check(replace(request, headers=[(n.title(), v) for n, v in request.headers]))


def test_the_date_header_may_stand_in_for_x_amz_date() -> None:
    request = header_signed("GET", object_url("a"), headers={"Date": format_datetime(NOW)})
    assert request.header("x-amz-date") is None
    assert check(request).timestamp == "20261202T120000Z"


def test_other_services_sign_a_normalised_twice_encoded_path() -> None:
    request = header_signed(
        "GET", f"{ENDPOINT}/a/./b/../c%20d", signer=SigV4Auth, service="execute-api"
    )
    found = parse_authorization(request)
    assert found is not None
    verify(request, found, SECRET, now=NOW, service="execute-api")
    assert found.payload_sha256 == EMPTY_SHA256  # no x-amz-content-sha256: an empty body


def test_our_header_signature_is_botocores() -> None:
    body = b'{"a": 1}'
    headers = {"Content-Type": "application/json", "X-Amz-Meta-Who": "ü  x"}
    url = f"{object_url('dir/ü k')}?a=1&b="
    ours = sign_headers(
        "PUT",
        url,
        key_id=KEY_ID,
        secret=SECRET,
        region=REGION,
        now=NOW,
        headers=headers,
        payload_hash=hashlib.sha256(body).hexdigest(),
    )
    theirs = AWSRequest("PUT", url, data=body, headers=headers)
    S3SigV4Auth(credentials(), "s3", REGION).add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"]
    check(from_url("PUT", url, [*headers.items(), *ours.items()]))


# -- tampering with a header-signed request ------------------------------------------------


@pytest.fixture
def signed() -> SignedRequest:
    return header_signed(
        "PUT",
        f"{object_url('a b')}?tag=one&tag=two",
        body=b"x",
        headers={"Content-Type": "text/plain", "X-Amz-Meta-A": "1"},
    )


def _scope_altered(request: SignedRequest, old: str, new: str) -> SignedRequest:
    authorization = request.header("authorization")
    assert authorization is not None and old in authorization
    return with_header(request, "authorization", authorization.replace(old, new))


def test_a_header_signed_request_altered_in_any_part_fails(signed: SignedRequest) -> None:
    mismatch = "SignatureDoesNotMatch"
    assert code_of(replace(signed, method="POST")) == mismatch
    assert code_of(replace(signed, path=signed.path + "x")) == mismatch
    assert code_of(replace(signed, query="tag=one&tag=three")) == mismatch
    assert code_of(replace(signed, query="tag=one")) == mismatch
    assert code_of(with_header(signed, "content-type", "text/html")) == mismatch
    assert code_of(with_header(signed, "x-amz-meta-a", "2")) == mismatch
    assert code_of(with_header(signed, "host", "127.0.0.1:9001")) == mismatch
    assert code_of(with_header(signed, "x-amz-date", "20261202T120001Z")) == mismatch
    assert code_of(with_header(signed, "x-amz-content-sha256", EMPTY_SHA256)) == mismatch
    assert code_of(_scope_altered(signed, "Signature=", "Signature=0")) == mismatch
    assert code_of(signed, secret=SECRET + "x") == mismatch
    # A scope of another region, checked against none, is a signature of another key.
    altered = _scope_altered(signed, f"/{REGION}/", "/eu-west-1/")
    found = parse_authorization(altered)
    assert found is not None
    with pytest.raises(SignatureError) as raised:
        verify(altered, found, SECRET, now=NOW)
    assert raised.value.code == mismatch


def test_a_header_signed_request_with_a_wrong_scope_is_malformed(signed: SignedRequest) -> None:
    malformed = "AuthorizationHeaderMalformed"
    assert code_of(_scope_altered(signed, f"/{REGION}/", "/eu-west-1/")) == malformed
    assert code_of(_scope_altered(signed, "/s3/", "/ec2/")) == malformed
    assert code_of(_scope_altered(signed, "/20261202/", "/20261201/")) == malformed
    assert code_of(_scope_altered(signed, "/aws4_request", "/aws5_request")) == malformed
    assert code_of(with_header(signed, "x-amz-date", "20261203T120000Z")) == malformed
    assert code_of(with_header(signed, "x-amz-date", "2026-12-02T12:00:00Z")) == malformed
    assert (
        code_of(
            _scope_altered(
                signed, "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
            )
        )
        == malformed
    )
    without = replace(signed, headers=[(n, v) for n, v in signed.headers if n != "x-amz-meta-a"])
    assert code_of(without) == malformed


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 Credential=a/20261202/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=a/20261202/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=ab, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/20261202/s3/aws4_request, SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/2026120/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/20261202/us-east-1/s3/aws4_request, "
        "SignedHeaders=Host, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/20261202/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;;x-amz-date, Signature=ab",
        "AWS4-HMAC-SHA256 Credential=a/20261202/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=",
        "AWS4-HMAC-SHA256 garbage",
    ],
)
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    request = from_url(
        "GET",
        object_url("a"),
        [("x-amz-date", "20261202T120000Z"), ("authorization", authorization)],
    )
    with pytest.raises(SignatureError) as raised:
        parse_authorization(request)
    assert raised.value.code == "AuthorizationHeaderMalformed"
    assert raised.value.status == 400


def test_unsigned_x_amz_headers_are_refused(signed: SignedRequest) -> None:
    added = replace(signed, headers=[*signed.headers, ("x-amz-acl", "public-read")])
    with pytest.raises(SignatureError, match="x-amz-acl") as raised:
        check(added)
    assert raised.value.code == "AccessDenied"


def test_a_request_time_far_from_the_clock_is_skewed(signed: SignedRequest) -> None:
    for now in (NOW + timedelta(minutes=15), NOW - timedelta(minutes=15)):
        check(signed, now=now)
    for now in (NOW + timedelta(minutes=15, seconds=1), NOW - timedelta(minutes=16)):
        assert code_of(signed, now=now) == "RequestTimeTooSkewed"
    assert code_of(signed, now=NOW + timedelta(minutes=2), max_skew=timedelta(minutes=1)) == (
        "RequestTimeTooSkewed"
    )


def test_what_the_header_form_refuses_before_any_signature(signed: SignedRequest) -> None:
    no_date = replace(signed, headers=[(n, v) for n, v in signed.headers if n != "x-amz-date"])
    assert code_of(no_date) == "AccessDenied"
    assert code_of(with_header(signed, "x-amz-security-token", "t")) == "InvalidToken"
    assert code_of(with_header(signed, "x-amz-content-sha256", "ABC")) == "InvalidArgument"
    streaming = with_header(signed, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert code_of(streaming) == "InvalidArgument"
    found = parse_authorization(streaming)
    assert found is not None and found.streaming and found.payload_sha256 is None
    # Let through, it is then only the signature that fails (the hash was altered here).
    assert code_of(streaming, allow_streaming=True) == "SignatureDoesNotMatch"
    both = replace(signed, query=signed.query + "&X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert code_of(both) == "InvalidArgument"


def test_requests_not_signed_with_sigv4_have_no_credentials() -> None:
    assert parse_authorization(from_url("GET", object_url("a"))) is None
    assert (
        parse_authorization(from_url("GET", object_url("a"), [("authorization", "Bearer x.y")]))
        is None
    )
    assert parse_authorization(from_url("GET", object_url("a") + "?X-Amz-Foo=1")) is None


# -- the query form (presigned URLs) -------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_a_botocore_presigned_get_verifies_and_is_ours(key: str) -> None:
    url = presigned("GET", key, ResponseContentDisposition='attachment; filename="a b.txt"')
    found = check(from_url("GET", url))
    assert found.presigned and found.expires == timedelta(seconds=300)
    assert found.payload_hash == UNSIGNED_PAYLOAD and found.payload_sha256 is None
    base = f"{object_url(key)}?response-content-disposition=" + quote(
        'attachment; filename="a b.txt"', safe=""
    )
    ours = presign("GET", base, key_id=KEY_ID, secret=SECRET, region=REGION, expires=300, now=NOW)
    assert ours == url


def test_a_presigned_put_signs_its_content_type() -> None:
    url = presigned("PUT", "up load.json", ContentType="application/json")
    found = check(from_url("PUT", url, [("content-type", "application/json")]))
    assert found.signed_headers == ("content-type", "host")
    assert code_of(from_url("PUT", url, [("content-type", "text/plain")])) == (
        "SignatureDoesNotMatch"
    )
    ours = presign(
        "PUT",
        object_url("up load.json"),
        key_id=KEY_ID,
        secret=SECRET,
        region=REGION,
        expires=300,
        now=NOW,
        headers={"Content-Type": "application/json"},
    )
    assert ours == url


def test_our_presigned_url_is_botocores_query_signer() -> None:
    url = f"{ENDPOINT}/docs/k%20x?versionId=v%2B1&b=&a=1"
    request = AWSRequest("GET", url, headers={"X-Amz-Meta-A": "x"})
    S3SigV4QueryAuth(credentials(), "s3", REGION, expires=60).add_auth(request)
    ours = presign(
        "GET",
        url,
        key_id=KEY_ID,
        secret=SECRET,
        region=REGION,
        expires=60,
        now=NOW,
        headers={"X-Amz-Meta-A": "x"},
    )
    assert ours == request.url
    check(from_url("GET", ours, [("x-amz-meta-a", "x")]))


def test_a_presigned_url_altered_in_any_part_fails() -> None:
    url = presigned("GET", "a b", VersionId="v1")
    mismatch = "SignatureDoesNotMatch"
    assert code_of(from_url("PUT", url)) == mismatch
    assert code_of(from_url("HEAD", url)) == mismatch
    assert code_of(from_url("GET", url.replace("/a%20b?", "/a%20c?"))) == mismatch
    assert code_of(from_url("GET", url.replace("versionId=v1", "versionId=v2"))) == mismatch
    assert (
        code_of(from_url("GET", url.replace("X-Amz-Expires=300", "X-Amz-Expires=301"))) == mismatch
    )
    assert code_of(from_url("GET", url + "&extra=1")) == mismatch
    assert code_of(from_url("GET", url[:-1] + ("0" if url[-1] != "0" else "1"))) == mismatch
    assert code_of(from_url("GET", url.replace("127.0.0.1:9000", "127.0.0.1:9001"))) == mismatch
    assert code_of(from_url("GET", url.replace("T120000Z", "T120001Z"))) == mismatch
    query = "AuthorizationQueryParametersError"
    assert code_of(from_url("GET", url.replace("%2F20261202%2F", "%2F20261201%2F"))) == query
    assert code_of(from_url("GET", url.replace(REGION, "eu-west-1"))) == query
    assert code_of(from_url("GET", url.replace("%2Fs3%2F", "%2Fsqs%2F"))) == query
    assert code_of(from_url("GET", url.replace("SignedHeaders=host", "SignedHeaders=x"))) == query
    signed_header = from_url("GET", url.replace("SignedHeaders=host", "SignedHeaders=host%3Bx-a"))
    assert code_of(signed_header) == query


def test_a_presigned_url_expires() -> None:
    request = from_url("GET", presigned("GET", "a", expires=60))
    check(request, now=NOW + timedelta(seconds=60))
    with pytest.raises(RequestExpired, match="expired") as raised:
        check(request, now=NOW + timedelta(seconds=61))
    assert (raised.value.code, raised.value.status) == ("AccessDenied", 403)
    check(request, now=NOW - timedelta(minutes=15))
    assert code_of(request, now=NOW - timedelta(minutes=16)) == "AccessDenied"  # not yet
    assert code_of(request, max_expires=timedelta(seconds=59)) == (
        "AuthorizationQueryParametersError"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("X-Amz-Expires=300", "X-Amz-Expires=0"),
        ("X-Amz-Expires=300", "X-Amz-Expires=604801"),
        ("X-Amz-Expires=300", "X-Amz-Expires=-1"),
        ("X-Amz-Expires=300", "X-Amz-Expires=5m"),
        ("X-Amz-Expires=300", "X-Amz-Expires=300&X-Amz-Expires=300"),
        ("X-Amz-Expires=300&", ""),
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"),
        ("X-Amz-Date=20261202T120000Z", "X-Amz-Date=20261202"),
    ],
)
def test_malformed_presigned_parameters_are_refused(old: str, new: str) -> None:
    url = presigned("GET", "a")
    assert old in url
    with pytest.raises(SignatureError) as raised:
        parse_authorization(from_url("GET", url.replace(old, new)))
    assert raised.value.code == "AuthorizationQueryParametersError"


def test_a_presigned_url_with_a_session_token_is_refused() -> None:
    request = from_url("GET", presigned("GET", "a") + "&X-Amz-Security-Token=t")
    assert code_of(request) == "InvalidToken"


def test_presign_refuses_a_lifetime_aws_would_not_take() -> None:
    for expires in (0, 604_801):
        with pytest.raises(ValueError, match="expires"):
            presign(
                "GET",
                object_url("a"),
                key_id=KEY_ID,
                secret=SECRET,
                region=REGION,
                expires=expires,
                now=NOW,
            )


# -- fuzzing -------------------------------------------------------------------------------

# Any character but a lone surrogate, which no UTF-8 request can carry.
_CHARACTERS = st.characters(exclude_categories=["Cs"])
_TEXT = st.text(_CHARACTERS, min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(key=_TEXT, value=st.text(_CHARACTERS, max_size=20))
def test_any_key_and_query_value_presign_as_botocore_does(key: str, value: str) -> None:
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        url = presigned("GET", key, VersionId=value)
    ours = presign(
        "GET",
        f"{object_url(key)}?versionId={quote(value, safe='')}",
        key_id=KEY_ID,
        secret=SECRET,
        region=REGION,
        expires=300,
        now=NOW,
    )
    assert ours == url
    check(from_url("GET", url))


@settings(max_examples=150, deadline=None)
@given(
    key=_TEXT, meta=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=20)
)
def test_any_key_and_header_value_signed_by_botocore_verifies(key: str, meta: str) -> None:
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        request = header_signed(
            "PUT", object_url(key), body=key.encode(), headers={"X-Amz-Meta-M": meta}
        )
    assert check(request).payload_sha256 == hashlib.sha256(key.encode()).hexdigest()
