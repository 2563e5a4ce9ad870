"""GetObject and HeadObject through a running gateway: conditions (412 and 304), a byte
range (206, 416), the ``response-*`` overrides, and what is not there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sangraha_core import BucketKinds
from tests.gateway._support import Deployment, code, error_of, new_bucket, status

DATA = bytes(range(256)) * 4


@pytest.fixture
def stored(s3: Any, bucket: str) -> tuple[str, str]:
    etag: str = s3.put_object(Bucket=bucket, Key="obj", Body=DATA)["ETag"]
    return bucket, etag


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def test_get_and_head(s3: Any, stored: tuple[str, str]) -> None:
    bucket, etag = stored
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == DATA
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == len(DATA)
    assert head["ETag"] == etag
    assert head["AcceptRanges"] == "bytes"
    assert head["LastModified"] <= datetime.now(UTC) + timedelta(seconds=2)


def test_a_missing_key_and_a_missing_bucket(deployment: Deployment, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(raised) == "NoSuchKey"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=new_bucket(), Key="missing")
    assert code(raised) == "NoSuchBucket"
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="missing")
    assert status(raised) == 404
    answer = deployment.http.get(f"/{bucket}/missing")
    assert error_of(answer)["Code"] == "NoSuchKey"


def test_a_key_whose_only_version_failed_is_no_such_key(deployment: Deployment, s3: Any) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    refused = deployment.http.put(
        f"/{name}/bad.json", content=b"[1,", headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=name, Key="bad.json")
    assert code(raised) == "NoSuchKey"


def test_a_newer_failed_version_leaves_the_older_ready_one_served(
    deployment: Deployment, s3: Any
) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    s3.put_object(Bucket=name, Key="doc.json", Body=b"[1]", ContentType="application/json")
    refused = deployment.http.put(
        f"/{name}/doc.json", content=b"[1,", headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400
    assert s3.get_object(Bucket=name, Key="doc.json")["Body"].read() == b"[1]"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=10-", 10, len(DATA)),
        ("bytes=-5", len(DATA) - 5, len(DATA)),
        ("bytes=1000-5000", 1000, len(DATA)),
    ],
)
def test_a_range(s3: Any, stored: tuple[str, str], header: str, start: int, end: int) -> None:
    bucket, _ = stored
    got = s3.get_object(Bucket=bucket, Key="obj", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == DATA[start:end]
    assert got["ContentRange"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    assert got["ContentLength"] == end - start


def test_a_range_past_the_end_is_invalid_range(
    deployment: Deployment, s3: Any, stored: tuple[str, str]
) -> None:
    bucket, _ = stored
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="obj", Range=f"bytes={len(DATA)}-")
    assert code(raised) == "InvalidRange"
    assert status(raised) == 416
    answer = deployment.http.get(f"/{bucket}/obj", headers={"Range": "bytes=5000-6000"})
    assert answer.status_code == 416
    assert error_of(answer)["Code"] == "InvalidRange"


def test_a_range_of_an_empty_object_is_invalid_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-0")
    assert status(raised) == 416


def test_an_unreadable_range_is_ignored(deployment: Deployment, stored: tuple[str, str]) -> None:
    bucket, _ = stored
    answer = deployment.http.get(f"/{bucket}/obj", headers={"Range": "pages=1-2"})
    assert answer.status_code == 200
    assert answer.content == DATA


def test_head_with_a_range_answers_the_whole(s3: Any, stored: tuple[str, str]) -> None:
    bucket, _ = stored
    head = s3.head_object(Bucket=bucket, Key="obj", Range="bytes=0-9")
    assert head["ResponseMetadata"]["HTTPStatusCode"] in (200, 206)


def test_if_match(s3: Any, stored: tuple[str, str]) -> None:
    bucket, etag = stored
    assert s3.get_object(Bucket=bucket, Key="obj", IfMatch=etag)["Body"].read() == DATA
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="obj", IfMatch='"0123"')
    assert code(raised) == "PreconditionFailed"
    assert status(raised) == 412
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="obj", IfMatch='"0123"')
    assert status(raised) == 412


def test_if_unmodified_since(s3: Any, stored: tuple[str, str]) -> None:
    bucket, _ = stored
    past = datetime.now(UTC) - timedelta(days=1)
    future = datetime.now(UTC) + timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="obj", IfUnmodifiedSince=future)["Body"].read()
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="obj", IfUnmodifiedSince=past)
    assert code(raised) == "PreconditionFailed"


def test_if_match_outweighs_if_unmodified_since(
    deployment: Deployment, stored: tuple[str, str]
) -> None:
    bucket, etag = stored
    past = http_date(datetime.now(UTC) - timedelta(days=1))
    answer = deployment.http.get(
        f"/{bucket}/obj", headers={"If-Match": etag, "If-Unmodified-Since": past}
    )
    assert answer.status_code == 200


def test_if_none_match_is_not_modified(deployment: Deployment, stored: tuple[str, str]) -> None:
    bucket, etag = stored
    answer = deployment.http.get(f"/{bucket}/obj", headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.content == b""
    assert answer.headers["etag"] == etag
    assert deployment.http.get(f"/{bucket}/obj", headers={"If-None-Match": '"x"'}).content == DATA
    star = deployment.http.get(f"/{bucket}/obj", headers={"If-None-Match": "*"})
    assert star.status_code == 304


def test_if_modified_since(deployment: Deployment, s3: Any, stored: tuple[str, str]) -> None:
    bucket, _ = stored
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    answer = deployment.http.get(f"/{bucket}/obj", headers={"If-Modified-Since": http_date(future)})
    assert answer.status_code == 304
    assert s3.get_object(Bucket=bucket, Key="obj", IfModifiedSince=past)["Body"].read() == DATA
    head = deployment.http.head(f"/{bucket}/obj", headers={"If-Modified-Since": http_date(future)})
    assert head.status_code == 304
    # A date that cannot be read is no condition.
    odd = deployment.http.get(f"/{bucket}/obj", headers={"If-Modified-Since": "yesterday"})
    assert odd.status_code == 200


def test_the_response_overrides(s3: Any, stored: tuple[str, str]) -> None:
    bucket, _ = stored
    got = s3.get_object(
        Bucket=bucket,
        Key="obj",
        ResponseContentType="text/plain",
        ResponseContentDisposition='attachment; filename="x.txt"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="en",
    )
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == 'attachment; filename="x.txt"'
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "en"
    assert got["Body"].read() == DATA


@pytest.mark.parametrize(
    "key",
    [
        "a b",
        "plus+sign",
        "q?x=1",
        "hash#frag",
        "trailing/",
        "ünïcødé/日本",
        "percent%20literal",
        "semi;colon",
        "~tilde",
        "*star",
    ],
)
def test_awkward_keys_round_trip(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert [o["Key"] for o in listed["Contents"]] == [key]


def test_a_version_by_its_id(deployment: Deployment, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="v", Body=b"one")
    oldest = deployment.backends.metadata.get_latest(bucket, "v")
    s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"two"
    got = s3.get_object(Bucket=bucket, Key="v", VersionId=oldest.id)
    assert got["Body"].read() == b"one"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="v", VersionId="not-a-version")
    assert status(raised) in (400, 404)


@pytest.mark.parametrize("key", ["dots/../x", "double//slash", "./here"])
def test_keys_sangraha_refuses_are_an_invalid_argument(s3: Any, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert code(raised) == "InvalidArgument"


@pytest.mark.parametrize("value", ["text/plain\r\nX-Evil: 1", "a\x00b", "line\nbreak", "del\x7f"])
def test_an_override_with_a_control_character_is_refused(
    deployment: Deployment, stored: tuple[str, str], value: str
) -> None:
    bucket, _ = stored
    for name in ("response-content-type", "response-content-disposition"):
        answer = deployment.http.get(f"/{bucket}/obj", params={name: value})
        assert answer.status_code == 400
        assert error_of(answer)["Code"] == "InvalidArgument"
        assert "x-evil" not in answer.headers


def test_a_non_ascii_override_goes_out_as_utf8(
    deployment: Deployment, stored: tuple[str, str]
) -> None:
    bucket, _ = stored
    disposition = 'attachment; filename="日本 été.txt"'
    answer = deployment.http.get(
        f"/{bucket}/obj", params={"response-content-disposition": disposition}
    )
    assert answer.status_code == 200
    raw = dict(answer.headers.raw)[b"content-disposition"]
    assert raw.decode("utf-8") == disposition


def test_if_range_of_another_version_sends_the_whole_object(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    # boto3 has no If-Range: a resuming downloader (curl -C, browsers) sends it.
    s3.put_object(
        Bucket=bucket, Key="resume.json", Body=b'{"v": 1}', ContentType="application/json"
    )
    first = s3.head_object(Bucket=bucket, Key="resume.json")["ETag"]
    s3.put_object(
        Bucket=bucket, Key="resume.json", Body=b'{"v": 22}', ContentType="application/json"
    )
    url = f"/{bucket}/resume.json"
    stale = deployment.http.get(url, headers={"Range": "bytes=2-", "If-Range": first})
    assert (stale.status_code, stale.content) == (200, b'{"v": 22}')
    current = s3.head_object(Bucket=bucket, Key="resume.json")["ETag"]
    fresh = deployment.http.get(url, headers={"Range": "bytes=2-", "If-Range": current})
    assert (fresh.status_code, fresh.content) == (206, b'v": 22}')


def test_part_number_1_is_the_whole_object_as_a_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="one", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-9/10"
    assert "PartsCount" not in got
    assert got["Body"].read() == b"0123456789"
    head = s3.head_object(Bucket=bucket, Key="one", PartNumber=1)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    assert "PartsCount" not in head
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    empty = s3.get_object(Bucket=bucket, Key="empty", PartNumber=1)
    assert empty["Body"].read() == b""


def test_another_part_number_is_invalid_part_number(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"0123456789")
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="one", PartNumber=2)
    assert code(raised) == "InvalidPartNumber"
    assert status(raised) == 416
    for query in ("partNumber=0", "partNumber=x", "partNumber=10001"):
        answer = deployment.http.get(f"/{bucket}/one?{query}")
        assert answer.status_code == 400, answer.text
        assert error_of(answer)["Code"] == "InvalidArgument"
    both = deployment.http.get(f"/{bucket}/one?partNumber=1", headers={"Range": "bytes=0-1"})
    assert both.status_code == 400, both.text
    assert error_of(both)["Code"] == "InvalidRequest"
