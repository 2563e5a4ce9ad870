"""Writes of whole objects through a running gateway: PutObject (conditions, checksums,
metadata, validation), CopyObject (COPY and REPLACE), DeleteObject and DeleteObjects, and
the v1 API and S3 reading each other's objects."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sangraha_core import BucketKinds
from tests.gateway._support import Deployment, code, error_of, new_bucket, status

# -- PutObject ------------------------------------------------------------------------------


def test_put_answers_the_md5_etag_once_ready(s3: Any, bucket: str) -> None:
    data = b"some bytes" * 1000
    put = s3.put_object(Bucket=bucket, Key="dir/a.bin", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(data)


def test_a_put_replaces_the_newest_version(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"


def test_an_empty_object_round_trips(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0


def test_the_declared_content_type_is_kept(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"plain", ContentType="text/plain")
    assert s3.head_object(Bucket=bucket, Key="t")["ContentType"] == "text/plain"


def test_user_metadata_round_trips(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="m", Body=b"x", Metadata={"colour": "blue", "with-dash": "a b"}
    )
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == {
        "colour": "blue",
        "with-dash": "a b",
    }
    assert s3.get_object(Bucket=bucket, Key="m")["Metadata"]["colour"] == "blue"


def _rfc2047(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def _decoded(value: str) -> str:
    if value.startswith("=?UTF-8?B?") and value.endswith("?="):
        return base64.b64decode(value[10:-2]).decode()
    return value


def test_non_ascii_metadata_sent_encoded_round_trips(s3: Any, bucket: str) -> None:
    # S3 tools send non-ASCII values RFC 2047-encoded, and get them back as sent.
    encoded = _rfc2047("café ☕")
    s3.put_object(Bucket=bucket, Key="u", Body=b"x", Metadata={"drink": encoded})
    assert _decoded(s3.head_object(Bucket=bucket, Key="u")["Metadata"]["drink"]) == "café ☕"


def test_non_ascii_metadata_sent_raw_comes_back_as_the_same_text(
    deployment: Deployment, bucket: str
) -> None:
    put = deployment.http.put(
        f"/{bucket}/raw",
        content=b"x",
        headers=[(b"x-amz-meta-drink", "café ☕".encode())],
    )
    assert put.status_code == 200, put.text
    head = deployment.http.head(f"/{bucket}/raw")
    raw = head.headers.raw
    value = next(v for k, v in raw if k.lower() == b"x-amz-meta-drink")
    assert _decoded(value.decode("latin-1")) == "café ☕"


def test_put_to_a_missing_bucket_is_no_such_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=new_bucket(), Key="k", Body=b"x")
    assert code(raised) == "NoSuchBucket"


def test_if_none_match_star_writes_only_a_new_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert code(raised) == "PreconditionFailed"
    assert status(raised) == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_if_match_writes_only_over_that_version(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")["ETag"]
    new = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=etag)["ETag"]
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v3", IfMatch=etag)
    assert code(raised) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="cas")["ETag"] == new
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"v", IfMatch=etag)
    assert code(raised) == "NoSuchKey"


def test_a_wrong_content_md5_is_bad_digest(deployment: Deployment, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    answer = deployment.http.put(
        f"/{bucket}/md5", content=b"the bytes", headers={"Content-MD5": wrong}
    )
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "BadDigest"
    assert deployment.http.get(f"/{bucket}/md5").status_code == 404
    right = base64.b64encode(hashlib.md5(b"the bytes").digest()).decode()
    ok = deployment.http.put(f"/{bucket}/md5", content=b"the bytes", headers={"Content-MD5": right})
    assert ok.status_code == 200, ok.text


def test_a_wrong_crc32_is_bad_digest(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="crc", Body=b"the bytes", ChecksumCRC32="AAAAAA==")
    assert code(raised) == "BadDigest"
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="crc")
    assert status(raised) == 404


def test_a_wrong_crc32_header_on_a_plain_body_is_bad_digest(
    deployment: Deployment, bucket: str
) -> None:
    answer = deployment.http.put(
        f"/{bucket}/crc", content=b"the bytes", headers={"x-amz-checksum-crc32": "AAAAAA=="}
    )
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "BadDigest"


def test_a_wrong_x_amz_content_sha256_is_its_mismatch(deployment: Deployment, bucket: str) -> None:
    wrong = {"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()}
    answer = deployment.http.put(f"/{bucket}/sha", content=b"the bytes", headers=wrong)
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "XAmzContentSHA256Mismatch"
    assert deployment.http.get(f"/{bucket}/sha").status_code == 404
    right = {"x-amz-content-sha256": hashlib.sha256(b"the bytes").hexdigest()}
    ok = deployment.http.put(f"/{bucket}/sha", content=b"the bytes", headers=right)
    assert ok.status_code == 200, ok.text


def test_a_sha256_checksum_header_is_checked_and_echoed(
    deployment: Deployment, bucket: str
) -> None:
    def checksum(data: bytes) -> dict[str, str]:
        return {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}

    answer = deployment.http.put(f"/{bucket}/sum", content=b"the bytes", headers=checksum(b"x"))
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "BadDigest"
    assert deployment.http.get(f"/{bucket}/sum").status_code == 404
    sent = checksum(b"the bytes")
    ok = deployment.http.put(f"/{bucket}/sum", content=b"the bytes", headers=sent)
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-amz-checksum-sha256"] == sent["x-amz-checksum-sha256"]
    assert ok.headers["etag"] == f'"{hashlib.md5(b"the bytes").hexdigest()}"'


def test_a_part_unlike_its_declared_digests_is_refused_with_their_codes(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="part")["UploadId"]
    url = f"/{bucket}/part?uploadId={upload}&partNumber=1"
    signed = {"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()}
    answer = deployment.http.put(url, content=b"part", headers=signed)
    assert error_of(answer)["Code"] == "XAmzContentSHA256Mismatch"
    md5 = {"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()}
    answer = deployment.http.put(url, content=b"part", headers=md5)
    assert error_of(answer)["Code"] == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="part", UploadId=upload).get("Parts", []) == []
    right = {
        "x-amz-content-sha256": hashlib.sha256(b"part").hexdigest(),
        "Content-MD5": base64.b64encode(hashlib.md5(b"part").digest()).decode(),
    }
    ok = deployment.http.put(url, content=b"part", headers=right)
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == f'"{hashlib.md5(b"part").hexdigest()}"'


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_every_checksum_boto3_sends_is_accepted(s3: Any, bucket: str, algorithm: str) -> None:
    put = s3.put_object(
        Bucket=bucket, Key=algorithm, Body=b"x" * 70000, ChecksumAlgorithm=algorithm
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key=algorithm)["Body"].read() == b"x" * 70000


def test_a_validated_bucket_refuses_bad_content_with_its_reason(
    deployment: Deployment, s3: Any
) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    ok = s3.put_object(Bucket=name, Key="good.json", Body=b'{"a": 1}')
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_object(Bucket=name, Key="good.json")["ContentType"] == "application/json"
    answer = deployment.http.put(
        f"/{name}/bad.json", content=b'{"a": ', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    fields = error_of(answer)
    assert fields["Code"] == "InvalidContent"
    assert "refused" in fields["Message"]
    assert deployment.http.get(f"/{name}/bad.json").status_code == 404


def test_a_validated_bucket_refuses_opaque_bytes(deployment: Deployment, s3: Any) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=name, Key="blob", Body=b"\x00\x01 opaque")
    assert status(raised) in (400, 415)


# -- CopyObject -----------------------------------------------------------------------------


def test_copy_keeps_type_and_metadata_by_default(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src", Body=b"copied", ContentType="text/plain", Metadata={"a": "1"}
    )
    result = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copied").hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"a": "1"}
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"copied"


def test_copy_with_replace_takes_the_new_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"copied", Metadata={"a": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/csv",
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "text/csv"
    # REPLACE onto itself is how S3 tools change an object's metadata.
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"c": "3"},
    )
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}


def test_copy_onto_itself_without_replace_is_invalid(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert code(raised) == "InvalidRequest"


def test_copy_across_buckets_and_with_awkward_keys(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    other = deployment.bucket()
    key = "dir/with space+plus?q=1&x#frag/é"
    s3.put_object(Bucket=bucket, Key=key, Body=b"odd")
    s3.copy_object(Bucket=other, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other, Key=key)["Body"].read() == b"odd"


def test_copy_from_what_is_not_there(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/missing")
    assert code(raised) == "NoSuchKey"
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{new_bucket()}/missing")
    assert code(raised) == "NoSuchBucket"
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.copy_object(Bucket=new_bucket(), Key="dst", CopySource=f"{bucket}/src")
    assert code(raised) == "NoSuchBucket"


def test_copy_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"x")["ETag"]
    s3.copy_object(Bucket=bucket, Key="a", CopySource=f"{bucket}/src", CopySourceIfMatch=etag)
    with pytest.raises(ClientError) as raised:
        s3.copy_object(
            Bucket=bucket, Key="b", CopySource=f"{bucket}/src", CopySourceIfMatch='"0000"'
        )
    assert code(raised) == "PreconditionFailed"
    with pytest.raises(ClientError) as raised:
        s3.copy_object(
            Bucket=bucket, Key="b", CopySource=f"{bucket}/src", CopySourceIfNoneMatch=etag
        )
    assert code(raised) == "PreconditionFailed"


def test_copy_takes_if_none_match_and_if_match_on_its_target(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    s3.put_object(Bucket=bucket, Key="dst", Body=b"target")
    copy = {"x-amz-copy-source": f"{bucket}/src"}
    refused = deployment.http.put(f"/{bucket}/dst", headers={**copy, "If-None-Match": "*"})
    assert refused.status_code == 412, refused.text
    assert error_of(refused)["Code"] == "PreconditionFailed"
    refused = deployment.http.put(f"/{bucket}/dst", headers={**copy, "If-Match": '"0"'})
    assert refused.status_code == 412, refused.text
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"target"
    current = s3.head_object(Bucket=bucket, Key="dst")["ETag"]
    copied = deployment.http.put(f"/{bucket}/dst", headers={**copy, "If-Match": current})
    assert copied.status_code == 200, copied.text
    fresh = deployment.http.put(f"/{bucket}/new", headers={**copy, "If-None-Match": "*"})
    assert fresh.status_code == 200, fresh.text
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"


@pytest.mark.parametrize("source", ["", "justabucket", "/bucket/", "b/k?other=1"])
def test_a_malformed_copy_source_is_an_invalid_argument(
    deployment: Deployment, bucket: str, source: str
) -> None:
    answer = deployment.http.put(f"/{bucket}/dst", headers={"x-amz-copy-source": source})
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidArgument"


@pytest.mark.parametrize("source", ["Bad_Bucket/k", "ab/k", "/-dash-/k"])
def test_a_copy_source_naming_a_bad_bucket_is_invalid_bucket_name(
    deployment: Deployment, bucket: str, source: str
) -> None:
    answer = deployment.http.put(f"/{bucket}/dst", headers={"x-amz-copy-source": source})
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "InvalidBucketName"


def test_a_bad_metadata_directive_is_an_invalid_argument(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    answer = deployment.http.put(
        f"/{bucket}/dst",
        headers={"x-amz-copy-source": f"{bucket}/src", "x-amz-metadata-directive": "MERGE"},
    )
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidArgument"


# -- DeleteObject, DeleteObjects ------------------------------------------------------------


def test_delete_is_idempotent_but_needs_the_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="gone")
    assert s3.delete_object(Bucket=bucket, Key="gone")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as raised:
        s3.delete_object(Bucket=new_bucket(), Key="gone")
    assert code(raised) == "NoSuchBucket"


def test_delete_objects_deletes_each_and_reports_each(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "never"}]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "b", "never"]
    assert not result.get("Errors")
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["c"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert not quiet.get("Deleted")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_in_a_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        s3.delete_objects(Bucket=new_bucket(), Delete={"Objects": [{"Key": "a"}]})
    assert code(raised) == "NoSuchBucket"


def test_delete_objects_in_a_missing_bucket_is_refused_before_its_body(
    deployment: Deployment,
) -> None:
    body = b"not xml"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    answer = deployment.http.post(
        f"/{new_bucket()}?delete", content=body, headers={"Content-MD5": md5}
    )
    assert answer.status_code == 404, answer.text
    assert error_of(answer)["Code"] == "NoSuchBucket"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<Delete><Object><Key>a</Key></Object>",
        b"<Other><Object><Key>a</Key></Object></Other>",
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key>'
        b"</Object></Delete>",
    ],
)
def test_a_malformed_delete_body_is_malformed_xml(
    deployment: Deployment, bucket: str, body: bytes
) -> None:
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    answer = deployment.http.post(f"/{bucket}?delete", content=body, headers={"Content-MD5": md5})
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "MalformedXML"


def test_a_delete_body_with_a_wrong_md5_is_bad_digest(deployment: Deployment, bucket: str) -> None:
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    answer = deployment.http.post(f"/{bucket}?delete", content=body, headers={"Content-MD5": md5})
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "BadDigest"


# -- the v1 API and S3 over the same store --------------------------------------------------


def test_an_object_written_through_v1_reads_through_s3(deployment: Deployment, s3: Any) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    body = json.dumps({"from": "v1"}).encode()
    written = deployment.http.put(
        f"{deployment.v1_url}/v1/buckets/{name}/objects/doc.json?wait=30",
        content=body,
        headers={"Content-Type": "application/json", "x-sangraha-meta-origin": "v1"},
    )
    assert written.status_code in (200, 201), written.text
    got = s3.get_object(Bucket=name, Key="doc.json")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/json"
    assert got["Metadata"] == {"origin": "v1"}
    assert got["ETag"].startswith('"') and len(got["ETag"]) > 2
    listed = s3.list_objects_v2(Bucket=name)
    assert listed["Contents"][0]["ETag"] == got["ETag"]


def test_an_object_written_through_s3_reads_through_v1(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="from/s3.bin", Body=b"s3 bytes", Metadata={"origin": "s3"})
    answer = deployment.http.get(f"{deployment.v1_url}/v1/buckets/{bucket}/objects/from/s3.bin")
    assert answer.status_code == 200, answer.text
    assert answer.content == b"s3 bytes"
    assert answer.headers["x-sangraha-meta-origin"] == "s3"


# -- bodies boto3 streams, limits -----------------------------------------------------------


class _Unseekable(io.RawIOBase):
    """A body that cannot be rewound or measured in advance (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(min(len(buffer), 8192))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_upload_fileobj_streams_through(s3: Any, bucket: str) -> None:
    data = b"fileobj " * 5000
    s3.upload_fileobj(_Unseekable(data), bucket, "fileobj")
    out = io.BytesIO()
    s3.download_fileobj(bucket, "fileobj", out)
    assert out.getvalue() == data


def test_a_key_over_1024_bytes_is_too_long(deployment: Deployment, bucket: str) -> None:
    answer = deployment.http.put(f"/{bucket}/{'k' * 1025}", content=b"x")
    assert answer.status_code == 400
    assert error_of(answer)["Code"] in ("KeyTooLongError", "InvalidArgument")


def test_metadata_over_the_limit_is_metadata_too_large(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 9000})
    assert code(raised) in ("MetadataTooLarge", "InvalidArgument")
    assert status(raised) == 400


def test_copy_of_an_older_version_by_id(deployment: Deployment, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="v", Body=b"old")
    old = deployment.backends.metadata.get_latest(bucket, "v")
    s3.put_object(Bucket=bucket, Key="v", Body=b"new")
    s3.copy_object(
        Bucket=bucket,
        Key="restored",
        CopySource={"Bucket": bucket, "Key": "v", "VersionId": old.id},
    )
    assert s3.get_object(Bucket=bucket, Key="restored")["Body"].read() == b"old"
    # Copying an older version onto its own key restores it.
    s3.copy_object(
        Bucket=bucket, Key="v", CopySource={"Bucket": bucket, "Key": "v", "VersionId": old.id}
    )
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"old"


def test_non_ascii_metadata_from_v1_reads_through_s3_encoded(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    written = deployment.http.put(
        f"{deployment.v1_url}/v1/buckets/{bucket}/objects/u8?wait=30",
        content=b"x",
        headers=[
            (b"Content-Type", b"application/octet-stream"),
            (b"x-sangraha-meta-city", "München".encode()),
        ],
    )
    if written.status_code >= 400:
        pytest.skip(f"the v1 API takes non-ASCII metadata otherwise: {written.text}")
    value = s3.head_object(Bucket=bucket, Key="u8")["Metadata"]["city"]
    assert _decoded(value) == "München"


def test_a_declared_length_over_the_limit_is_refused_from_the_headers(
    deployment: Deployment, bucket: str
) -> None:
    # The body is far shorter than declared: only the headers can have refused it.
    too_big = deployment.backends.settings.max_object_size + 1
    answer = deployment.http.put(
        f"/{bucket}/huge",
        content=b"0\r\n\r\n",
        headers={
            "content-encoding": "aws-chunked",
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-decoded-content-length": str(too_big),
        },
    )
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "EntityTooLarge"
