"""The gateway's XML documents, read back by botocore itself, and the request bodies it parses.

Responses go through a real botocore S3 client whose HTTP send is replaced by the rendered
document, so the client's own parser and its after-call handlers (the ``encoding-type=url``
decoders, GetBucketLocation's hand parser) read what the gateway would answer. Request
bodies are the ones botocore serializes, captured before they would be sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.client import BaseClient
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError, RestXMLParser
from hypothesis import given, settings
from hypothesis import strategies as st

from sangraha_gateway._errors import S3Error
from sangraha_gateway._xml import (
    S3_NAMESPACE,
    BucketEntry,
    Deleted,
    DeleteError,
    ListMultipartUploadsResult,
    ListObjectsResult,
    ListObjectsV2Result,
    ListPartsResult,
    ObjectEntry,
    Owner,
    PartEntry,
    UploadEntry,
    parse_complete_multipart_upload,
    parse_create_bucket_configuration,
    parse_delete,
    render_access_control_policy,
    render_complete_multipart_upload,
    render_copy_object_result,
    render_copy_part_result,
    render_delete_result,
    render_initiate_multipart_upload,
    render_list_buckets,
    render_list_multipart_uploads,
    render_list_objects,
    render_list_objects_v2,
    render_list_parts,
    render_location_constraint,
    render_tagging,
    render_versioning_configuration,
    s3_timestamp,
    url_encode,
)

WHEN = datetime(2026, 12, 2, 15, 4, 5, 123456, tzinfo=UTC)
#: What a client reads back: S3 times carry milliseconds.
WHEN_MS = WHEN.replace(microsecond=123000)
OWNER = Owner("c0ffee", "sangraha")
#: Keys XML 1.0 can carry, but only when escaped right: markup, a CR a parser would turn into
#: a LF, a tab, plus/space/percent that URL decoding would confuse, non-ASCII.
AWKWARD = ["a b+c%20d", "x&y<z>w", "cr\rlf\ntab\t", "ünï/cødé/ 한글", "~*'\"()!$,;=:@?#[]"]
#: Keys XML 1.0 cannot carry at all.
UNCARRIABLE = ["bell\x07", "nul\x00", "esc\x1b[0m", "ff\x0c", "nonchar\ufffe"]
BIG = 1 << 20
S3_MODEL = botocore.session.get_session().get_service_model("s3")


@dataclass
class _Exchange:
    """One botocore call answered with ``body``; what botocore sent is kept."""

    body: bytes
    status: int = 200
    requests: list[AWSPreparedRequest] = field(default_factory=list)

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.requests[-1].url).query, keep_blank_values=True)

    def sent(self) -> bytes:
        body = self.requests[-1].body
        assert isinstance(body, bytes)
        return body


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self._body


@functools.cache
def _client() -> BaseClient:
    """One client for the module: building one per call would be most of the run time."""
    client = botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    # A before-send handler answers the request in botocore's place; the stubs know only the
    # handlers that answer nothing.
    client.meta.events.register("before-send.s3", cast("Callable[..., None]", _send))
    return client


#: The exchange the client's next request is answered from.
_CURRENT: list[_Exchange] = []


def _send(request: AWSPreparedRequest, **_: object) -> AWSResponse:
    exchange = _CURRENT[-1]
    exchange.requests.append(request)
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    headers["Content-Length"] = str(len(exchange.body))
    return AWSResponse(request.url, exchange.status, headers, _Raw(exchange.body))


def _call(operation: str, body: bytes, **params: Any) -> tuple[dict[str, Any], _Exchange]:
    exchange = _Exchange(body)
    _CURRENT.append(exchange)
    try:
        method = getattr(_client(), botocore.xform_name(operation))
        response: dict[str, Any] = method(**params)
    finally:
        _CURRENT.remove(exchange)
    return response, exchange


def _entry(key: str, *, owner: Owner | None = OWNER, size: int = 3) -> ObjectEntry:
    return ObjectEntry(key, WHEN, "d41d8cd98f00b204e9800998ecf8427e", size, owner)


# --- response documents --------------------------------------------------------------------


def test_the_document_has_the_declaration_the_namespace_and_utf8() -> None:
    assert render_location_constraint("us-east-1") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )
    document = render_initiate_multipart_upload(bucket="b", key="ключ", upload_id="u")
    assert f'<InitiateMultipartUploadResult xmlns="{S3_NAMESPACE}">'.encode() in document
    assert "<Key>ключ</Key>".encode() in document


def test_times_are_utc_with_milliseconds_and_naive_ones_are_refused() -> None:
    assert s3_timestamp(WHEN) == "2026-12-02T15:04:05.123Z"
    plus_two = timezone(timedelta(hours=2))
    assert s3_timestamp(datetime(2026, 12, 2, 17, 4, 5, tzinfo=plus_two)) == (
        "2026-12-02T15:04:05.000Z"
    )
    with pytest.raises(ValueError, match="time zone"):
        s3_timestamp(datetime(2026, 12, 2))


def test_list_buckets_reads_back() -> None:
    document = render_list_buckets(OWNER, [BucketEntry("one", WHEN), BucketEntry("two", WHEN)])
    parsed, _ = _call("ListBuckets", document)
    assert parsed["Owner"] == {"ID": "c0ffee", "DisplayName": "sangraha"}
    assert [(b["Name"], b["CreationDate"]) for b in parsed["Buckets"]] == [
        ("one", WHEN_MS),
        ("two", WHEN_MS),
    ]


def test_list_objects_v1_url_encoded_reads_back_exactly_through_botocores_decoder() -> None:
    keys = [*AWKWARD, *UNCARRIABLE]
    document = render_list_objects(
        ListObjectsResult(
            "b",
            prefix="",
            marker="m a+r%k",
            next_marker="n e+x%t",
            max_keys=7,
            delimiter="+ ",
            is_truncated=True,
            encoding_type="url",
            contents=[_entry(k) for k in keys],
            common_prefixes=["c o+m%/", "\x01/"],
        )
    )
    parsed, exchange = _call("ListObjects", document, Bucket="b")
    # botocore asked for the encoding itself, so it decodes.
    assert exchange.query()["encoding-type"] == ["url"]
    assert [o["Key"] for o in parsed["Contents"]] == keys
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["c o+m%/", "\x01/"]
    assert (parsed["Marker"], parsed["NextMarker"], parsed["Delimiter"]) == (
        "m a+r%k",
        "n e+x%t",
        "+ ",
    )
    assert parsed["MaxKeys"] == 7 and parsed["IsTruncated"] is True
    first = parsed["Contents"][0]
    assert first["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert (first["Size"], first["StorageClass"], first["LastModified"]) == (3, "STANDARD", WHEN_MS)
    assert first["Owner"] == {"ID": "c0ffee", "DisplayName": "sangraha"}


def test_list_objects_v1_prefix_is_left_plain_because_botocore_does_not_decode_it() -> None:
    document = render_list_objects(
        ListObjectsResult("b", prefix="a b+c%", encoding_type="url", contents=[_entry("a b+c%1")])
    )
    assert b"<Prefix>a b+c%</Prefix>" in document
    parsed, _ = _call("ListObjects", document, Bucket="b", Prefix="a b+c%")
    assert parsed["Prefix"] == "a b+c%"
    assert parsed["Contents"][0]["Key"] == "a b+c%1"


def test_list_objects_v1_prefix_xml_cannot_carry_is_encoded_so_the_listing_parses() -> None:
    document = render_list_objects(
        ListObjectsResult("b", prefix="p\x01 ", encoding_type="url", contents=[_entry("p\x01 k")])
    )
    assert b"<Prefix>p%01+</Prefix>" in document
    parsed, _ = _call("ListObjects", document, Bucket="b", Prefix="p\x01 ")
    assert parsed["Contents"][0]["Key"] == "p\x01 k"


def test_list_objects_v1_next_marker_only_when_truncated_with_a_delimiter() -> None:
    def has_next(**kwargs: Any) -> bool:
        return b"<NextMarker>" in render_list_objects(ListObjectsResult("b", **kwargs))

    assert has_next(is_truncated=True, delimiter="/", next_marker="k")
    assert not has_next(is_truncated=True, next_marker="k")
    assert not has_next(is_truncated=False, delimiter="/", next_marker="k")


def test_list_objects_v2_url_encoded_reads_back_exactly() -> None:
    keys = [*AWKWARD, *UNCARRIABLE]
    document = render_list_objects_v2(
        ListObjectsV2Result(
            "b",
            prefix="",
            delimiter="/",
            max_keys=100,
            is_truncated=True,
            encoding_type="url",
            continuation_token="tok+en/=",
            next_continuation_token="next+tok/=",
            start_after="a b",
            contents=[_entry(k) for k in keys],
            common_prefixes=["p q+r/"],
        )
    )
    parsed, exchange = _call("ListObjectsV2", document, Bucket="b")
    assert exchange.query()["encoding-type"] == ["url"]
    assert [o["Key"] for o in parsed["Contents"]] == keys
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["p q+r/"]
    assert parsed["KeyCount"] == len(keys) + 1
    assert (parsed["StartAfter"], parsed["Delimiter"]) == ("a b", "/")
    # Tokens are opaque: never encoded, so never decoded.
    assert (parsed["ContinuationToken"], parsed["NextContinuationToken"]) == (
        "tok+en/=",
        "next+tok/=",
    )
    assert "Owner" not in parsed["Contents"][0]


def test_list_objects_v2_prefix_is_encoded_and_owner_comes_with_fetch_owner() -> None:
    document = render_list_objects_v2(
        ListObjectsV2Result(
            "b", prefix="a b+", encoding_type="url", fetch_owner=True, contents=[_entry("a b+1")]
        )
    )
    assert b"<Prefix>a+b%2B</Prefix>" in document
    parsed, _ = _call("ListObjectsV2", document, Bucket="b", Prefix="a b+", FetchOwner=True)
    assert parsed["Prefix"] == "a b+"
    assert parsed["Contents"][0]["Owner"] == {"ID": "c0ffee", "DisplayName": "sangraha"}


def test_url_encoding_is_s3s() -> None:
    # As AWS answers: space +, plus %2B, slash kept, UTF-8 bytes percent-encoded.
    assert url_encode("a b.txt") == "a+b.txt"
    assert url_encode("a+b.txt") == "a%2Bb.txt"
    assert url_encode("100%.csv") == "100%25.csv"
    assert url_encode("한글/x.txt") == "%ED%95%9C%EA%B8%80/x.txt"


def test_plain_listing_carries_awkward_keys_exactly() -> None:
    document = render_list_objects_v2(
        ListObjectsV2Result("b", contents=[_entry(k) for k in AWKWARD], start_after="x&y")
    )
    assert b"&#xD;" in document and b"\r" not in document
    # No EncodingType in the answer, so botocore leaves the keys as parsed.
    parsed, _ = _call("ListObjectsV2", document, Bucket="b")
    assert [o["Key"] for o in parsed["Contents"]] == AWKWARD
    assert parsed["StartAfter"] == "x&y"


@pytest.mark.parametrize("key", UNCARRIABLE)
def test_a_key_xml_cannot_carry_fails_to_parse_without_url_encoding_as_on_s3(key: str) -> None:
    document = render_list_objects_v2(ListObjectsV2Result("b", contents=[_entry(key)]))
    bad = next(c for c in key if ord(c) < 0x20 or c == "\ufffe")
    assert f"&#x{ord(bad):X};".encode() in document
    output = S3_MODEL.operation_model("ListObjectsV2").output_shape
    assert output is not None
    response = {"body": document, "headers": {}, "status_code": 200}
    with pytest.raises(ResponseParserError):
        RestXMLParser().parse(response, output)
    # A whole client takes an unreadable 200 for an error S3 embedded, as it does on S3.
    with pytest.raises(ClientError):
        _call("ListObjectsV2", document, Bucket="b")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=["Cs"]), min_size=1), min_size=1))
def test_any_key_reads_back_under_url_encoding(keys: list[str]) -> None:
    document = render_list_objects_v2(
        ListObjectsV2Result("b", encoding_type="url", contents=[_entry(k) for k in keys])
    )
    parsed, _ = _call("ListObjectsV2", document, Bucket="b")
    assert [o["Key"] for o in parsed["Contents"]] == keys


def test_an_unknown_encoding_type_is_refused() -> None:
    with pytest.raises(ValueError, match="encoding type"):
        render_list_objects(ListObjectsResult("b", encoding_type="base64"))  # type: ignore[arg-type]


def test_initiate_and_complete_multipart_upload_read_back() -> None:
    parsed, _ = _call(
        "CreateMultipartUpload",
        render_initiate_multipart_upload(bucket="b", key="a&b", upload_id="up-1"),
        Bucket="b",
        Key="a&b",
    )
    assert (parsed["Bucket"], parsed["Key"], parsed["UploadId"]) == ("b", "a&b", "up-1")
    document = render_complete_multipart_upload(
        location="http://127.0.0.1/b/a%26b",
        bucket="b",
        key="a&b",
        etag="abc-2",
        checksums={"CRC32": "AAAAAA=="},
        checksum_type="COMPOSITE",
    )
    parsed, _ = _call(
        "CompleteMultipartUpload",
        document,
        Bucket="b",
        Key="a&b",
        UploadId="up-1",
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
    )
    assert parsed["Location"] == "http://127.0.0.1/b/a%26b"
    assert (parsed["Bucket"], parsed["Key"], parsed["ETag"]) == ("b", "a&b", '"abc-2"')
    assert (parsed["ChecksumCRC32"], parsed["ChecksumType"]) == ("AAAAAA==", "COMPOSITE")


def test_list_parts_reads_back() -> None:
    parts = [
        PartEntry(1, WHEN, '"e1"', 5 << 20, {"CRC32C": "q83vEg=="}),
        PartEntry(2, WHEN, "e2", 7),
    ]
    document = render_list_parts(
        ListPartsResult(
            "b", "k", "up", OWNER, OWNER, part_number_marker=0, max_parts=2, parts=parts
        )
    )
    parsed, _ = _call("ListParts", document, Bucket="b", Key="k", UploadId="up")
    assert (parsed["PartNumberMarker"], parsed["NextPartNumberMarker"]) == (0, 2)
    assert (parsed["MaxParts"], parsed["IsTruncated"], parsed["StorageClass"]) == (
        2,
        False,
        "STANDARD",
    )
    assert parsed["Initiator"] == parsed["Owner"] == {"ID": "c0ffee", "DisplayName": "sangraha"}
    assert [
        (p["PartNumber"], p["ETag"], p["Size"], p["LastModified"]) for p in parsed["Parts"]
    ] == [
        (1, '"e1"', 5 << 20, WHEN_MS),
        (2, '"e2"', 7, WHEN_MS),
    ]
    assert parsed["Parts"][0]["ChecksumCRC32C"] == "q83vEg=="
    empty = render_list_parts(ListPartsResult("b", "k", "up", OWNER, OWNER))
    assert b"<NextPartNumberMarker>0</NextPartNumberMarker>" in empty


def test_list_multipart_uploads_reads_back() -> None:
    uploads = [UploadEntry(k, f"up-{i}", WHEN, OWNER, OWNER) for i, k in enumerate(AWKWARD)]
    result = ListMultipartUploadsResult(
        "b",
        key_marker="k&m",
        upload_id_marker="u0",
        next_key_marker="n<k",
        next_upload_id_marker="u9",
        prefix="",
        delimiter="/",
        max_uploads=5,
        is_truncated=True,
        uploads=uploads,
        common_prefixes=["c&p/"],
    )
    parsed, _ = _call("ListMultipartUploads", render_list_multipart_uploads(result), Bucket="b")
    assert [(u["Key"], u["UploadId"]) for u in parsed["Uploads"]] == [
        (k, f"up-{i}") for i, k in enumerate(AWKWARD)
    ]
    assert parsed["Uploads"][0]["Initiated"] == WHEN_MS
    assert parsed["Uploads"][0]["Owner"] == {"ID": "c0ffee", "DisplayName": "sangraha"}
    assert (parsed["KeyMarker"], parsed["NextKeyMarker"], parsed["NextUploadIdMarker"]) == (
        "k&m",
        "n<k",
        "u9",
    )
    assert (parsed["MaxUploads"], parsed["IsTruncated"], parsed["Delimiter"]) == (5, True, "/")
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["c&p/"]


def test_list_multipart_uploads_url_encoded_as_the_reference_says() -> None:
    result = ListMultipartUploadsResult(
        "b",
        key_marker="a b",
        next_key_marker="c+d",
        prefix="p q",
        encoding_type="url",
        uploads=[UploadEntry("k\x01 +", "up", WHEN, OWNER, OWNER)],
        common_prefixes=["x y/"],
    )
    # botocore never asks to encode this listing, so it hands the encoded values on.
    parsed, _ = _call("ListMultipartUploads", render_list_multipart_uploads(result), Bucket="b")
    assert parsed["EncodingType"] == "url"
    assert (parsed["KeyMarker"], parsed["NextKeyMarker"], parsed["Prefix"]) == (
        "a+b",
        "c%2Bd",
        "p+q",
    )
    assert parsed["Uploads"][0]["Key"] == "k%01+%2B"
    assert parsed["CommonPrefixes"] == [{"Prefix": "x+y/"}]


def test_copy_results_read_back() -> None:
    parsed, _ = _call(
        "CopyObject",
        render_copy_object_result(etag="abc", last_modified=WHEN),
        Bucket="b",
        Key="k",
        CopySource="b/src",
    )
    assert parsed["CopyObjectResult"]["ETag"] == '"abc"'
    assert parsed["CopyObjectResult"]["LastModified"] == WHEN_MS
    parsed, _ = _call(
        "UploadPartCopy",
        render_copy_part_result(etag='"def"', last_modified=WHEN, checksums={"SHA256": "x="}),
        Bucket="b",
        Key="k",
        CopySource="b/src",
        UploadId="up",
        PartNumber=1,
    )
    assert parsed["CopyPartResult"]["ETag"] == '"def"'
    assert parsed["CopyPartResult"]["ChecksumSHA256"] == "x="


def test_delete_round_trip_from_botocores_request_to_its_reading_of_the_answer() -> None:
    keys = ["plain", *AWKWARD]
    objects: list[dict[str, str]] = [{"Key": k} for k in keys]
    objects[0]["VersionId"] = "v1"
    document = render_delete_result(
        [Deleted("plain", "v1"), *(Deleted(k) for k in AWKWARD[1:])],
        [DeleteError(AWKWARD[0], "AccessDenied", "Access & denied")],
    )
    parsed, exchange = _call("DeleteObjects", document, Bucket="b", Delete={"Objects": objects})
    quiet, requested = parse_delete(exchange.sent(), max_bytes=BIG)
    assert quiet is False
    assert [(o.key, o.version_id) for o in requested] == [
        ("plain", "v1"),
        *((k, None) for k in AWKWARD),
    ]
    assert [(d["Key"], d.get("VersionId")) for d in parsed["Deleted"]] == [
        ("plain", "v1"),
        *((k, None) for k in AWKWARD[1:]),
    ]
    assert parsed["Errors"] == [
        {"Key": AWKWARD[0], "Code": "AccessDenied", "Message": "Access & denied"}
    ]


def test_quiet_delete_answers_only_the_errors() -> None:
    document = render_delete_result(
        [Deleted("gone")], [DeleteError("kept", "InternalError", "no")], quiet=True
    )
    parsed, exchange = _call(
        "DeleteObjects", document, Bucket="b", Delete={"Objects": [{"Key": "gone"}], "Quiet": True}
    )
    assert parse_delete(exchange.sent(), max_bytes=BIG)[0] is True
    assert "Deleted" not in parsed
    assert [e["Key"] for e in parsed["Errors"]] == ["kept"]


@pytest.mark.parametrize(
    ("region", "read"), [("us-east-1", None), (None, None), ("eu-west-1", "eu-west-1")]
)
def test_location_constraint_reads_back(region: str | None, read: str | None) -> None:
    parsed, _ = _call("GetBucketLocation", render_location_constraint(region), Bucket="b")
    assert parsed["LocationConstraint"] == read


def test_versioning_configuration_reads_back_as_never_versioned() -> None:
    parsed, _ = _call("GetBucketVersioning", render_versioning_configuration(), Bucket="b")
    assert "Status" not in parsed and "MFADelete" not in parsed


@pytest.mark.parametrize("operation", ["GetBucketAcl", "GetObjectAcl"])
def test_access_control_policy_reads_back_as_the_owners_full_control(operation: str) -> None:
    owner = Owner(id="o-id", display_name="o & name")
    extra = {"Key": "k"} if operation == "GetObjectAcl" else {}
    parsed, _ = _call(operation, render_access_control_policy(owner), Bucket="b", **extra)
    assert parsed["Owner"] == {"ID": "o-id", "DisplayName": "o & name"}
    assert parsed["Grants"] == [
        {
            "Grantee": {"ID": "o-id", "DisplayName": "o & name", "Type": "CanonicalUser"},
            "Permission": "FULL_CONTROL",
        }
    ]


def test_tagging_reads_back() -> None:
    parsed, _ = _call("GetObjectTagging", render_tagging(), Bucket="b", Key="k")
    assert parsed["TagSet"] == []
    tagged = render_tagging([("team", "a<b")])
    parsed, _ = _call("GetObjectTagging", tagged, Bucket="b", Key="k")
    assert parsed["TagSet"] == [{"Key": "team", "Value": "a<b"}]


# --- request bodies ------------------------------------------------------------------------


def test_complete_multipart_upload_as_botocore_sends_it() -> None:
    parts: list[dict[str, Any]] = [
        {"PartNumber": 2, "ETag": '"e2"', "ChecksumCRC32": "AAAAAA=="},
        {"PartNumber": 1, "ETag": "e1"},
        {"PartNumber": 10000, "ETag": '"e3-5"', "ChecksumSHA256": "c2hh"},
    ]
    _, exchange = _call(
        "CompleteMultipartUpload",
        render_complete_multipart_upload(location="l", bucket="b", key="k", etag="e"),
        Bucket="b",
        Key="k",
        UploadId="up",
        MultipartUpload={"Parts": parts},
    )
    read = parse_complete_multipart_upload(exchange.sent(), max_bytes=BIG)
    assert [(p.part_number, p.etag, dict(p.checksums)) for p in read] == [
        (2, "e2", {"CRC32": "AAAAAA=="}),
        (1, "e1", {}),
        (10000, "e3-5", {"SHA256": "c2hh"}),
    ]


def test_create_bucket_configuration_as_botocore_sends_it() -> None:
    document = render_location_constraint(None)
    _, exchange = _call(
        "CreateBucket",
        document,
        Bucket="b",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    assert parse_create_bucket_configuration(exchange.sent(), max_bytes=BIG) == "eu-west-1"
    assert parse_create_bucket_configuration(b"", max_bytes=BIG) is None
    assert parse_create_bucket_configuration(b" \n", max_bytes=BIG) is None
    bare = b"<CreateBucketConfiguration/>"
    assert parse_create_bucket_configuration(bare, max_bytes=BIG) is None


@pytest.mark.parametrize(
    "root",
    [
        "<Delete>",
        f'<Delete xmlns="{S3_NAMESPACE}">',
        '<Delete xmlns="urn:other">',
        f'<s3:Delete xmlns:s3="{S3_NAMESPACE}">',
    ],
)
def test_bodies_are_read_with_any_namespace_or_none(root: str) -> None:
    close = "</s3:Delete>" if root.startswith("<s3:") else "</Delete>"
    body = f"{root}<Object><Key> k </Key><VersionId>v</VersionId></Object>{close}".encode()
    quiet, objects = parse_delete(body, max_bytes=BIG)
    assert (quiet, [(o.key, o.version_id) for o in objects]) == (False, [(" k ", "v")])


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Delete><Object><Key>&lol4;</Key></Object></Delete>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&x;</Key></Object></Delete>"""
PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>
<Delete><Object><Key>k</Key></Object></Delete>"""
BARE_DOCTYPE = b'<!DOCTYPE Delete SYSTEM "http://127.0.0.1:9/x.dtd"><Delete/>'


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL, PARAMETER, BARE_DOCTYPE])
def test_hostile_documents_are_malformed(body: bytes) -> None:
    with pytest.raises(S3Error, match="DTD") as caught:
        parse_delete(body, max_bytes=BIG)
    assert caught.value.code == "MalformedXML" and caught.value.status == 400


@pytest.mark.parametrize("depth", [9, 100_000])
def test_deep_nesting_is_malformed(depth: int) -> None:
    body = b"<Delete>" + b"<Object>" * depth + b"</Object>" * depth + b"</Delete>"
    with pytest.raises(S3Error, match="deeper") as caught:
        parse_delete(body, max_bytes=len(body))
    assert caught.value.code == "MalformedXML"


def test_too_many_elements_is_malformed() -> None:
    body = b"<CreateBucketConfiguration>" + b"<x/>" * 10_000 + b"</CreateBucketConfiguration>"
    with pytest.raises(S3Error, match="too many elements"):
        parse_create_bucket_configuration(body, max_bytes=BIG)


def test_a_body_over_the_limit_is_malformed() -> None:
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    assert parse_delete(body, max_bytes=len(body))[1][0].key == "k"
    with pytest.raises(S3Error, match=f"over {len(body) - 1} bytes"):
        parse_delete(body, max_bytes=len(body) - 1)


def test_at_most_1000_objects_are_deleted_at_once() -> None:
    def body(count: int) -> bytes:
        return b"<Delete>" + b"<Object><Key>k</Key></Object>" * count + b"</Delete>"

    assert len(parse_delete(body(1000), max_bytes=BIG)[1]) == 1000
    with pytest.raises(S3Error, match="at most 1000") as caught:
        parse_delete(body(1001), max_bytes=BIG)
    assert caught.value.code == "MalformedXML"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not xml at all", "not well-formed"),
        (b"<Delete><Object><Key>k</Key></Object>", "not well-formed"),
        (b"", "empty"),
        (b"<Other><Object><Key>k</Key></Object></Other>", "root element is Other"),
        (b"<Delete/>", "no Object"),
        (b"<Delete><Quiet>true</Quiet></Delete>", "no Object"),
        (b"<Delete><Object><VersionId>v</VersionId></Object></Delete>", "needs a Key"),
        (b"<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>", "Quiet"),
        (b"<Delete><Object><Key><b>k</b></Key></Object></Delete>", "takes text"),
    ],
)
def test_bad_delete_bodies_are_malformed(body: bytes, says: str) -> None:
    with pytest.raises(S3Error, match=says) as caught:
        parse_delete(body, max_bytes=BIG)
    assert caught.value.code == "MalformedXML"


def _complete(*parts: str) -> bytes:
    inner = "".join(f"<Part>{p}</Part>" for p in parts)
    return f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (_complete(), "no Part"),
        (_complete("<PartNumber>1</PartNumber>"), "PartNumber and an ETag"),
        (_complete("<ETag>e</ETag>"), "PartNumber and an ETag"),
        (_complete("<PartNumber>one</PartNumber><ETag>e</ETag>"), "not a number"),
        (_complete("<PartNumber>+5</PartNumber><ETag>e</ETag>"), "not a number"),
        (_complete("<PartNumber>\u0665</PartNumber><ETag>e</ETag>"), "not a number"),
        (b"<Delete><Object><Key>k</Key></Object></Delete>", "root element is Delete"),
    ],
)
def test_bad_complete_bodies_are_malformed(body: bytes, says: str) -> None:
    with pytest.raises(S3Error, match=says) as caught:
        parse_complete_multipart_upload(body, max_bytes=BIG)
    assert caught.value.code == "MalformedXML"


@pytest.mark.parametrize("number", ["0", "10001", "99999999"])
def test_part_numbers_outside_s3s_range_are_invalid_arguments(number: str) -> None:
    with pytest.raises(S3Error, match="between 1 and 10000") as caught:
        parse_complete_multipart_upload(
            _complete(f"<PartNumber>{number}</PartNumber><ETag>e</ETag>"), max_bytes=BIG
        )
    assert caught.value.code == "InvalidArgument"


def test_complete_parts_keep_the_order_given_and_lose_their_quotes() -> None:
    body = _complete(
        "<PartNumber> 3 </PartNumber><ETag>&quot;c&quot;</ETag>",
        "<PartNumber>1</PartNumber><ETag>a</ETag><ChecksumCRC64NVME>n==</ChecksumCRC64NVME>",
    )
    read = parse_complete_multipart_upload(body, max_bytes=BIG)
    assert [(p.part_number, p.etag, dict(p.checksums)) for p in read] == [
        (3, "c", {}),
        (1, "a", {"CRC64NVME": "n=="}),
    ]
