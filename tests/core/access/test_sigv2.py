"""SigV2 checked against botocore's own signers (``HmacV1Auth`` for the header, and
``HmacV1QueryAuth``, which a default boto3 client presigns with): what botocore signs
verifies, what is altered fails with S3's error code, and the clock is held to its bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from sangraha_core import Backends, UnauthenticatedError
from sangraha_core.access import (
    OPERATOR,
    SIGV2_SUBRESOURCES,
    Authenticator,
    Grant,
    KeyAdmin,
    KeyRing,
    MasterKey,
    NeedsRead,
    RequestExpired,
    SignatureError,
    SignedRequest,
    SigV2Credentials,
    parse_authorization,
    parse_sigv2,
    sigv2_string_to_sign,
    verify_sigv2,
)
from tests.core.access._requests import ENDPOINT, from_url, object_url, wire, with_header

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY="
NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)

KEYS = [
    "plain.txt",
    "with space",
    "two  spaces and\ttab",
    "ünïcødé/ключ/鍵",
    "emoji 😀",
    "a+b",
    "100% sure",
    "%2F literal",
    "a=b&c",
    "tilde~",
    "semi;colon,comma:at@",
    "q?mark#hash",
    "trailing/",
]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    # botocore's SigV2 signers read the clock through time.time: the query signer for
    # Expires, the header signer through email.utils.formatdate for Date.
    clock = SimpleNamespace(time=NOW.timestamp)
    with (
        mock.patch.object(botocore.auth, "time", clock),
        mock.patch.object(
            botocore.auth, "formatdate", lambda usegmt=False: format_datetime(NOW, usegmt=True)
        ),
    ):
        yield


def credentials(key_id: str = KEY_ID, secret: str = SECRET) -> Credentials:
    return Credentials(key_id, secret)


def s3_client(key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    """A boto3 S3 client with its default configuration: it presigns with SigV2."""
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def header_signed(
    method: str = "GET",
    url: str = object_url("a"),
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    secret: str = SECRET,
) -> SignedRequest:
    """Signed as s3cmd and ``signature_version='s3'`` clients do: ``Authorization: AWS …``."""
    request = AWSRequest(method, url, data=body, headers=headers or {})
    HmacV1Auth(credentials(secret=secret)).add_auth(request)
    return wire(request)


def query_signed(
    method: str = "GET",
    url: str = object_url("a"),
    *,
    expires: int = 3600,
    headers: dict[str, str] | None = None,
) -> str:
    request = AWSRequest(method, url, headers=headers or {})
    HmacV1QueryAuth(credentials(), expires=expires).add_auth(request)
    signed = request.url
    assert isinstance(signed, str)
    return signed


def presigned(
    operation: str = "get_object", key: str = "a", expires: int = 300, **params: Any
) -> str:
    url: str = s3_client().generate_presigned_url(
        operation, Params={"Bucket": "docs", "Key": key, **params}, ExpiresIn=expires
    )
    # What this file is about: boto3's default presigner is still SigV2.
    assert "AWSAccessKeyId=" in url and "X-Amz-Signature" not in url
    return url


def check(
    request: SignedRequest, secret: str = SECRET, now: datetime = NOW, **options: Any
) -> SigV2Credentials:
    found = parse_sigv2(request)
    assert found is not None
    verify_sigv2(request, found, secret, now=now, **options)
    return found


def code_of(request: SignedRequest, **options: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        check(request, **options)
    return caught.value.code


def hand_signed(to_sign: str, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# -- the string to sign ----------------------------------------------------------------------


def test_the_documented_example_signs_as_aws_says() -> None:
    # AWS's own example of a SigV2 GET ("Signing and authenticating REST requests").
    request = SignedRequest(
        "GET",
        "/awsexamplebucket1/photos/puppy.jpg",
        "",
        [
            ("Host", "127.0.0.1"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="),
        ],
    )
    assert (
        sigv2_string_to_sign(request, date="Tue, 27 Mar 2007 19:36:42 +0000")
        == "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
    )
    when = datetime(2007, 3, 27, 19, 40, tzinfo=UTC)
    found = check(request, secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", now=when)
    assert found == SigV2Credentials("AKIAIOSFODNN7EXAMPLE", "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=")


def test_the_string_to_sign_has_every_part_in_its_place() -> None:
    request = SignedRequest(
        "put",
        "/docs/a%20b",
        "uploadId=u%2B1&prefix=p&partNumber=2&acl",
        [
            ("Content-MD5", " bWQ1 "),
            ("Content-Type", "text/plain"),
            ("X-Amz-Meta-B", " two "),
            ("x-amz-meta-a", "one"),
            ("x-amz-meta-a", "again"),
            ("user-agent", "not signed"),
        ],
    )
    assert sigv2_string_to_sign(request, date="D") == (
        "PUT\nbWQ1\ntext/plain\nD\n"
        "x-amz-meta-a:one,again\nx-amz-meta-b:two\n"
        "/docs/a%20b?acl&partNumber=2&uploadId=u+1"
    )


def test_the_subresources_are_botocores() -> None:
    assert frozenset(HmacV1Auth.QSAOfInterest) == SIGV2_SUBRESOURCES


# -- the header form -------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_a_botocore_header_signed_get_verifies(key: str) -> None:
    found = check(header_signed("GET", object_url(key)))
    assert found.key_id == KEY_ID and not found.presigned


@pytest.mark.parametrize("key", KEYS)
def test_a_botocore_header_signed_put_with_metadata_verifies(key: str) -> None:
    body = b"{}"
    request = header_signed(
        "PUT",
        object_url(key),
        body=body,
        headers={
            "Content-Type": "application/json",
            "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),
            "x-amz-meta-Owner": "  Ada Lovelace ",
            "X-Amz-Meta-empty": "",
            "x-amz-storage-class": "STANDARD",
        },
    )
    check(request)


@pytest.mark.parametrize(
    "query",
    [
        "uploads",
        "uploadId=2~abc%2Bdef%2F%3D&partNumber=7",
        "partNumber=1&uploadId=x",
        "versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY%2BMTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
        "acl&versionId=v1",
        "tagging",
        "delete",
        "list-type=2&prefix=a%20b&delimiter=%2F",
        "response-content-disposition=attachment%3B%20filename%3D%22%C3%BC%20x.txt%22"
        "&response-content-type=text%2Fplain",
    ],
)
def test_subresources_are_signed_as_botocore_signs_them(query: str) -> None:
    check(header_signed("POST", f"{object_url('a b')}?{query}"))


def test_repeated_x_amz_headers_are_joined_as_botocore_joins_them() -> None:
    request = AWSRequest("GET", object_url("a"))
    request.headers.add_header("x-amz-meta-tag", " one ")
    request.headers.add_header("X-Amz-Meta-Tag", "two")
    HmacV1Auth(credentials()).add_auth(request)
    # As sent: both header lines (the prepared request would keep only one).
    url = request.url
    assert isinstance(url, str)
    parts = urlsplit(url)
    signed = SignedRequest("GET", parts.path, parts.query, list(request.headers.items()))
    assert len([n for n, _ in signed.headers if n.lower() == "x-amz-meta-tag"]) == 2
    check(signed)


@pytest.fixture
def signed() -> SignedRequest:
    return header_signed(
        "PUT",
        object_url("report 100%+.pdf") + "?uploadId=u1&partNumber=3",
        body=b"x",
        headers={
            "Content-Type": "application/pdf",
            "Content-MD5": "nQ4Z5U6cBpA2a5NuSaEoDA==",
            "x-amz-meta-owner": "ada",
        },
    )


def test_a_header_signed_request_verifies_before_it_is_altered(signed: SignedRequest) -> None:
    check(signed)


def test_a_header_signed_request_altered_in_any_part_fails(signed: SignedRequest) -> None:
    altered = [
        replace(signed, method="POST"),
        replace(signed, path=signed.path.replace("report", "rep0rt")),
        replace(signed, path="/other" + signed.path),
        replace(signed, query="uploadId=u2&partNumber=3"),
        replace(signed, query="uploadId=u1&partNumber=4"),
        replace(signed, query="uploadId=u1"),
        replace(signed, query=signed.query + "&acl"),
        with_header(signed, "content-type", "text/html"),
        with_header(signed, "content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
        with_header(signed, "x-amz-meta-owner", "eve"),
        with_header(signed, "x-amz-meta-extra", "added"),
        with_header(signed, "date", format_datetime(NOW + timedelta(seconds=1), usegmt=True)),
        replace(signed, headers=[(n, v) for n, v in signed.headers if n != "x-amz-meta-owner"]),
        replace(signed, headers=[(n, v) for n, v in signed.headers if n != "content-type"]),
    ]
    authorization = signed.header("authorization")
    assert authorization is not None
    sig = authorization.rpartition(":")[2]
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    altered.append(with_header(signed, "authorization", f"AWS {KEY_ID}:{flipped}"))
    for request in altered:
        assert code_of(request) == "SignatureDoesNotMatch", request
    assert code_of(signed, secret=SECRET + "x") == "SignatureDoesNotMatch"


def test_query_parameters_that_are_no_subresource_are_not_signed(signed: SignedRequest) -> None:
    # As in SigV2 everywhere: only the subresources are part of the string to sign.
    check(replace(signed, query=signed.query + "&x-id=UploadPart&max-keys=5"))


def test_the_header_date_must_be_near_the_clock(signed: SignedRequest) -> None:
    check(signed, now=NOW + timedelta(minutes=14))
    check(signed, now=NOW - timedelta(minutes=14))
    assert code_of(signed, now=NOW + timedelta(minutes=16)) == "RequestTimeTooSkewed"
    assert code_of(signed, now=NOW - timedelta(minutes=16)) == "RequestTimeTooSkewed"
    assert code_of(signed, now=NOW + timedelta(minutes=2), max_skew=timedelta(minutes=1)) == (
        "RequestTimeTooSkewed"
    )


def test_x_amz_date_takes_the_place_of_date_with_an_empty_date_line() -> None:
    # As s3cmd signs: the time in x-amz-date, the date line of the string to sign empty.
    stamp = format_datetime(NOW, usegmt=True)
    to_sign = f"DELETE\n\n\n\nx-amz-date:{stamp}\n/docs/a"
    request = SignedRequest(
        "DELETE",
        "/docs/a",
        "",
        [
            ("host", "127.0.0.1"),
            ("x-amz-date", stamp),
            ("date", "Thu, 01 Jan 1970 00:00:00 GMT"),  # ignored, as AWS ignores it
            ("authorization", f"AWS {KEY_ID}:{hand_signed(to_sign)}"),
        ],
    )
    check(request)
    assert code_of(request, now=NOW + timedelta(hours=1)) == "RequestTimeTooSkewed"
    # The time checked is x-amz-date's, signed in the x-amz-* lines.
    assert code_of(with_header(request, "x-amz-date", format_datetime(NOW))) == (
        "SignatureDoesNotMatch"
    )


def test_botocore_with_x_amz_date_signs_its_date_header_and_verifies() -> None:
    # botocore's HmacV1Auth puts the Date it sets on the date line whatever else is sent.
    request = header_signed(headers={"x-amz-date": format_datetime(NOW, usegmt=True)})
    check(request)
    assert code_of(with_header(request, "date", "Wed, 02 Dec 2026 12:00:01 GMT")) == (
        "SignatureDoesNotMatch"
    )


def test_an_iso_x_amz_date_is_read_as_the_request_time() -> None:
    to_sign = "GET\n\n\n\nx-amz-date:20261202T120000Z\n/docs/a"
    request = SignedRequest(
        "GET",
        "/docs/a",
        "",
        [("x-amz-date", "20261202T120000Z"), ("authorization", f"AWS k:{hand_signed(to_sign)}")],
    )
    check(request)
    assert code_of(request, now=NOW + timedelta(minutes=20)) == "RequestTimeTooSkewed"


@pytest.mark.parametrize("date", [None, "", "yesterday", "Wed, 99 Foo 2026 12:00:00 GMT"])
def test_a_header_signed_request_without_a_valid_date_is_refused(date: str | None) -> None:
    headers = [("authorization", f"AWS {KEY_ID}:c2lnbmF0dXJl")]
    if date is not None:
        headers.append(("date", date))
    request = SignedRequest("GET", "/docs/a", "", headers)
    with pytest.raises(SignatureError, match="valid Date or x-amz-date") as caught:
        check(request)
    assert caught.value.code == "AccessDenied"


@pytest.mark.parametrize(
    "authorization", ["AWS ", "AWS nocolon", "AWS :signature", "AWS keyid:", "AWS  : "]
)
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    request = SignedRequest("GET", "/docs/a", "", [("authorization", authorization)])
    with pytest.raises(SignatureError) as caught:
        parse_sigv2(request)
    assert caught.value.code == "InvalidArgument"


def test_a_session_token_is_refused(signed: SignedRequest) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_sigv2(with_header(signed, "x-amz-security-token", "token"))
    assert caught.value.code == "InvalidToken"


def test_requests_not_signed_with_sigv2_have_no_credentials() -> None:
    assert parse_sigv2(from_url("GET", object_url("a"))) is None
    assert parse_sigv2(from_url("GET", object_url("a"), [("authorization", "Bearer x.y")])) is None
    assert (
        parse_sigv2(
            from_url("GET", object_url("a"), [("authorization", "AWS4-HMAC-SHA256 Credential=x")])
        )
        is None
    )
    assert parse_sigv2(from_url("GET", object_url("a") + "?Expires=5&uploads")) is None
    # And SigV4 leaves SigV2 alone.
    assert parse_authorization(header_signed()) is None
    assert parse_authorization(from_url("GET", presigned())) is None


# -- the query form (presigned URLs) ---------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_a_default_boto3_presigned_get_verifies(key: str) -> None:
    url = presigned("get_object", key, expires=300)
    found = check(from_url("GET", url))
    assert found.presigned and found.key_id == KEY_ID
    assert found.expires == str(int(NOW.timestamp()) + 300)


@pytest.mark.parametrize("key", KEYS)
def test_a_presigned_get_with_response_overrides_verifies(key: str) -> None:
    url = presigned(
        "get_object",
        key,
        ResponseContentDisposition=f'attachment; filename="{key}"',
        ResponseContentType="text/plain; charset=utf-8",
        ResponseCacheControl="no-cache",
    )
    assert "response-content-disposition=" in url
    check(from_url("GET", url))
    # The override is signed: another file name is another request.
    other = url.replace(
        "response-content-disposition=attachment", "response-content-disposition=inline"
    )
    assert other != url
    assert code_of(from_url("GET", other)) == "SignatureDoesNotMatch"


def test_a_presigned_upload_part_and_multipart_calls_verify() -> None:
    upload_id = "2~Up+load/Id%3D=="
    url = s3_client().generate_presigned_url(
        "upload_part",
        Params={"Bucket": "docs", "Key": "big file+1", "UploadId": upload_id, "PartNumber": 3},
    )
    assert "uploadId=" in url and "partNumber=3" in url
    check(from_url("PUT", url))
    for other in (
        url.replace("partNumber=3", "partNumber=4"),
        url.replace("uploadId=2", "uploadId=3"),
    ):
        assert code_of(from_url("PUT", other)) == "SignatureDoesNotMatch"
    for operation, params, method in (
        ("create_multipart_upload", {}, "POST"),
        ("complete_multipart_upload", {"UploadId": upload_id}, "POST"),
        ("abort_multipart_upload", {"UploadId": upload_id}, "DELETE"),
        ("list_parts", {"UploadId": upload_id}, "GET"),
        ("head_object", {"VersionId": "v+1"}, "HEAD"),
        ("delete_object", {}, "DELETE"),
    ):
        made = s3_client().generate_presigned_url(
            operation, Params={"Bucket": "docs", "Key": "k", **params}
        )
        check(from_url(method, made))


@pytest.mark.parametrize(
    ("operation", "params", "method"),
    [
        ("list_objects_v2", {"Prefix": "a b/", "Delimiter": "/"}, "GET"),
        ("list_objects", {"Marker": "m+1"}, "GET"),
        ("get_bucket_location", {}, "GET"),
        ("list_multipart_uploads", {}, "GET"),
        ("head_bucket", {}, "HEAD"),
        ("delete_bucket", {}, "DELETE"),
    ],
)
def test_a_presigned_bucket_request_signed_as_slash_bucket_slash_verifies(
    operation: str, params: dict[str, str], method: str
) -> None:
    # botocore signs a request to a bucket alone as /bucket/ and sends /bucket.
    url = s3_client().generate_presigned_url(operation, Params={"Bucket": "docs", **params})
    assert urlsplit(url).path == "/docs"
    check(from_url(method, url))
    assert code_of(from_url(method, url.replace("/docs?", "/docs2?"))) == "SignatureDoesNotMatch"


def test_a_bucket_request_signed_as_sent_verifies_too() -> None:
    for path in ("/docs", "/docs/"):
        check(header_signed("GET", f"{ENDPOINT}{path}?uploads"))
    # An object's path has no such second form.
    to_sign = f"GET\n\n\n{format_datetime(NOW, usegmt=True)}\n/docs/a/"
    request = SignedRequest(
        "GET",
        "/docs/a",
        "",
        [
            ("date", format_datetime(NOW, usegmt=True)),
            ("authorization", f"AWS {KEY_ID}:{hand_signed(to_sign)}"),
        ],
    )
    assert code_of(request) == "SignatureDoesNotMatch"


def test_a_presigned_put_signs_its_content_type_and_metadata() -> None:
    url = presigned(
        "put_object",
        "upload me.json",
        ContentType="application/json",
        Metadata={"owner": "Ada Lovelace"},
    )
    assert "content-type=" in url and "x-amz-meta-owner=" in url
    # A client may send the signed headers again, or leave them in the query alone.
    check(from_url("PUT", url))
    sent = [("content-type", "application/json"), ("x-amz-meta-owner", "Ada Lovelace")]
    check(from_url("PUT", url, sent))
    assert code_of(from_url("PUT", url, [("content-type", "text/html")])) == (
        "SignatureDoesNotMatch"
    )
    assert code_of(from_url("PUT", url, [("x-amz-meta-owner", "Eve")])) == ("SignatureDoesNotMatch")
    assert code_of(from_url("PUT", url, [("x-amz-meta-extra", "added")])) == (
        "SignatureDoesNotMatch"
    )


def test_a_presigned_url_altered_in_any_part_fails() -> None:
    url = presigned("get_object", "a b+c", expires=600, VersionId="v1")
    check(from_url("GET", url))
    parts = urlsplit(url)
    expires = str(int(NOW.timestamp()) + 600)
    signature_start = parts.query.index("Signature=") + len("Signature=")
    sig = parts.query[signature_start]
    flipped = (
        parts.query[:signature_start]
        + ("B" if sig == "A" else "A")
        + parts.query[signature_start + 1 :]
    )
    altered = [
        from_url("PUT", url),
        from_url("DELETE", url),
        from_url("GET", url.replace("/docs/", "/docs2/")),
        from_url("GET", url.replace("a%20b", "a%20c")),
        from_url("GET", url.replace("versionId=v1", "versionId=v2")),
        from_url("GET", url.replace("versionId=v1&", "")),
        from_url("GET", url + "&uploads"),
        from_url("GET", url.replace(f"Expires={expires}", f"Expires={int(expires) + 60}")),
        from_url("GET", url, [("x-amz-meta-added", "1")]),
        replace(from_url("GET", url), query=flipped),
    ]
    for request in altered:
        assert code_of(request) == "SignatureDoesNotMatch", request
    assert code_of(from_url("GET", url), secret="another secret") == "SignatureDoesNotMatch"


def test_a_presigned_url_expires() -> None:
    url = presigned(expires=300)
    request = from_url("GET", url)
    check(request, now=NOW + timedelta(seconds=300))
    with pytest.raises(RequestExpired, match="Request has expired") as caught:
        check(request, now=NOW + timedelta(seconds=301))
    assert caught.value.code == "AccessDenied"


def test_a_presigned_url_lives_at_most_a_week() -> None:
    week = 7 * 24 * 3600
    check(from_url("GET", query_signed(expires=week)))
    check(from_url("GET", presigned(expires=week)))
    for expires in (week + 16 * 60, 30 * 24 * 3600, 10**12):
        request = from_url("GET", query_signed(expires=expires))
        assert code_of(request) == "AuthorizationQueryParametersError"
    hour = f"Expires={int(NOW.timestamp()) + 3600}"
    url = query_signed()
    assert hour in url
    huge = from_url("GET", url.replace(hour, "Expires=" + "9" * 5000))
    assert code_of(huge) == "AuthorizationQueryParametersError"
    # A URL signed for a week by a clock a little ahead passes.
    check(from_url("GET", query_signed(expires=week)), now=NOW - timedelta(minutes=10))


def test_a_presigned_url_with_expires_that_is_no_number_is_refused() -> None:
    url = query_signed()
    expires = str(int(NOW.timestamp()) + 3600)
    for bad in ("soon", "-5", "1.5", "", "١٢٣"):
        request = from_url("GET", url.replace(f"Expires={expires}", f"Expires={quote(bad)}"))
        with pytest.raises(SignatureError, match="seconds since epoch") as caught:
            parse_sigv2(request)
        assert caught.value.code == "AccessDenied"


@pytest.mark.parametrize("dropped", ["AWSAccessKeyId", "Signature", "Expires"])
def test_a_presigned_url_missing_a_parameter_is_refused(dropped: str) -> None:
    parts = urlsplit(query_signed())
    kept = "&".join(p for p in parts.query.split("&") if not p.startswith(dropped + "="))
    request = SignedRequest("GET", parts.path, kept, [])
    with pytest.raises(SignatureError, match="requires the Signature") as caught:
        parse_sigv2(request)
    assert caught.value.code == "AccessDenied"


def test_a_presigned_url_given_a_parameter_twice_is_refused() -> None:
    request = from_url("GET", query_signed() + "&AWSAccessKeyId=other")
    with pytest.raises(SignatureError) as caught:
        parse_sigv2(request)
    assert caught.value.code == "AuthorizationQueryParametersError"


def test_a_signature_whose_plus_was_left_unencoded_still_verifies() -> None:
    # Base64 has '+', which a careless client leaves unencoded and a form decoder reads as
    # a space. Signatures are fixed here (so is the clock): the first key whose has one.
    for n in range(200):
        url = query_signed(url=object_url(f"key-{n}"))
        signature = urlsplit(url).query.partition("Signature=")[2].partition("&")[0]
        if "%2B" in signature:
            break
    else:
        pytest.fail("no signature with a '+' among 200")
    careless = url.replace(signature, signature.replace("%2B", "+"))
    assert "+" in careless
    check(from_url("GET", careless))


def test_two_ways_of_signing_in_one_request_are_refused(signed: SignedRequest) -> None:
    url = presigned()
    both = [
        from_url("GET", url, [("authorization", signed.header("authorization") or "")]),
        from_url("GET", url, [("authorization", "AWS4-HMAC-SHA256 Credential=x")]),
        from_url("GET", url + "&X-Amz-Signature=abc"),
        replace(signed, query=signed.query + "&X-Amz-Credential=x"),
    ]
    for request in both:
        with pytest.raises(SignatureError) as caught:
            parse_sigv2(request)
        assert caught.value.code == "InvalidArgument"


def test_a_presigned_url_with_a_session_token_is_refused() -> None:
    request = from_url("GET", query_signed(headers={"x-amz-security-token": "token"}))
    assert "x-amz-security-token=" in request.query
    with pytest.raises(SignatureError) as caught:
        parse_sigv2(request)
    assert caught.value.code == "InvalidToken"


@settings(max_examples=60, deadline=None)
@given(
    # Any character but a lone surrogate, which no UTF-8 request can carry.
    key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30),
    meta=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=20),
)
def test_any_key_and_header_value_botocore_signs_verifies(key: str, meta: str) -> None:
    check(header_signed("PUT", object_url(key), headers={"x-amz-meta-note": meta}))
    check(from_url("GET", query_signed(url=object_url(key))))


# -- through the authenticator ---------------------------------------------------------------


@dataclass
class Keys:
    """Access keys in a real (SQLite) store, and the master key that seals them."""

    store: Any
    master: MasterKey

    def ring(self) -> KeyRing:
        return KeyRing(self.store, self.master)

    def admin(self) -> KeyAdmin:
        return KeyAdmin(self.store, self.master)


@pytest.fixture
def keys(backends: Backends) -> Keys:
    return Keys(backends.metadata, MasterKey.generate()[0])


def authenticator() -> Authenticator:
    return Authenticator(clock=lambda: NOW)


def auth_code(request: SignedRequest, ring: KeyRing) -> str | None:
    with pytest.raises(UnauthenticatedError) as caught:
        authenticator().authenticate(request, ring.lookup)
    return caught.value.code


def test_the_authenticator_takes_a_default_boto3_presigned_url(keys: Keys) -> None:
    ring = keys.ring()
    made = keys.admin().create(OPERATOR, grants=[Grant.parse("docs:read")])
    url = s3_client(made.key.key_id, made.secret).generate_presigned_url(
        "get_object",
        Params={"Bucket": "docs", "Key": "ünï code+100%", "ResponseContentDisposition": "inline"},
    )
    request = from_url("GET", url)
    with pytest.raises(NeedsRead):
        authenticator().authenticate(request, ring.peek)
    identity = authenticator().authenticate(request, ring.lookup)
    assert identity.principal.key_id == made.key.key_id
    assert identity.principal.presigned
    assert identity.principal.grants == made.key.grants
    assert identity.payload_sha256 is None and identity.streaming is None
    # Once read, the ring answers without the store.
    assert authenticator().authenticate(request, ring.peek).principal.key_id == made.key.key_id
    tampered = from_url("GET", url.replace("inline", "attachment"))
    assert auth_code(tampered, ring) == "SignatureDoesNotMatch"
    late = Authenticator(clock=lambda: NOW + timedelta(hours=2))
    with pytest.raises(UnauthenticatedError, match="Request has expired") as caught:
        late.authenticate(request, ring.lookup)
    assert caught.value.code == "AccessDenied"


def test_the_authenticator_takes_a_sigv2_header(keys: Keys) -> None:
    ring = keys.ring()
    made = keys.admin().create(OPERATOR, grants=[Grant.parse("docs:write")])
    request = AWSRequest(
        "PUT", object_url("a b") + "?uploads", data=b"x", headers={"x-amz-meta-k": "v"}
    )
    HmacV1Auth(credentials(made.key.key_id, made.secret)).add_auth(request)
    signed = wire(request)
    identity = authenticator().authenticate(signed, ring.lookup)
    assert identity.principal.key_id == made.key.key_id
    assert not identity.principal.presigned
    assert identity.payload_sha256 is None and identity.streaming is None
    assert auth_code(with_header(signed, "x-amz-meta-k", "w"), ring) == "SignatureDoesNotMatch"
    skewed = Authenticator(clock=lambda: NOW + timedelta(minutes=20))
    with pytest.raises(UnauthenticatedError) as caught:
        skewed.authenticate(signed, ring.lookup)
    assert caught.value.code == "RequestTimeTooSkewed"
    # A revoked key and an unknown one are keys S3 does not know.
    keys.admin().revoke(OPERATOR, made.key.key_id)
    assert auth_code(signed, keys.ring()) == "InvalidAccessKeyId"  # a ring that reads anew
    assert auth_code(from_url("GET", query_signed()), ring) == "InvalidAccessKeyId"


def test_the_authenticator_refuses_malformed_and_mixed_sigv2(keys: Keys) -> None:
    ring = keys.ring()
    malformed = SignedRequest("GET", "/docs/a", "", [("authorization", "AWS nocolon")])
    assert auth_code(malformed, ring) == "InvalidArgument"
    mixed = from_url("GET", query_signed() + "&X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert auth_code(mixed, ring) == "InvalidArgument"
    other = SignedRequest("GET", "/docs/a", "", [("authorization", "Digest x")])
    with pytest.raises(UnauthenticatedError, match="Signature Version 2") as caught:
        authenticator().authenticate(other, ring.lookup)
    assert caught.value.code == "InvalidRequest"
