"""Multipart uploads through a running gateway: create, parts, UploadPartCopy with a range,
ListParts and ListMultipartUploads paging, complete (and each way it is refused), abort."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from sangraha_core import BucketKinds
from tests.gateway._support import Deployment, code, error_of, new_bucket, status

MIB = 1024 * 1024
BIG = bytes(range(256)) * (5 * MIB // 256)  # exactly 5 MiB, the smallest non-last part


def multipart_etag(*parts: bytes) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def open_upload(s3: Any, bucket: str, key: str, **extra: Any) -> str:
    upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    return upload_id


def put_part(s3: Any, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
    etag: str = s3.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
    )["ETag"]
    return etag


def test_an_upload_of_two_parts(s3: Any, bucket: str) -> None:
    upload = open_upload(
        s3, bucket, "big.bin", ContentType="application/x-thing", Metadata={"m": "1"}
    )
    first = put_part(s3, bucket, "big.bin", upload, 1, BIG)
    assert first == f'"{hashlib.md5(BIG).hexdigest()}"'
    second = put_part(s3, bucket, "big.bin", upload, 2, b"tail")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
        },
    )
    assert done["ETag"] == multipart_etag(BIG, b"tail")
    assert done["Key"] == "big.bin" and done["Bucket"] == bucket
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["ETag"] == done["ETag"]
    assert got["ContentType"] == "application/x-thing"
    assert got["Metadata"] == {"m": "1"}
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(BIG + b"tail").digest()


def test_a_single_small_part_is_a_whole_object(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "one")
    etag = put_part(s3, bucket, "one", upload, 1, b"only")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="one",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"only"


def test_parts_not_named_are_dropped_and_gaps_allowed(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "gaps")
    one = put_part(s3, bucket, "gaps", upload, 1, BIG)
    put_part(s3, bucket, "gaps", upload, 2, b"dropped")
    three = put_part(s3, bucket, "gaps", upload, 3, b"kept")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="gaps",
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": one}, {"PartNumber": 3, "ETag": three}]
        },
    )
    body = s3.get_object(Bucket=bucket, Key="gaps")["Body"].read()
    assert body == BIG + b"kept"


def test_a_part_sent_again_replaces_the_first(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "again")
    put_part(s3, bucket, "again", upload, 1, b"first")
    etag = put_part(s3, bucket, "again", upload, 1, b"second")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="again",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="again")["Body"].read() == b"second"


def test_a_non_last_part_under_5_mib_is_entity_too_small(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "small")
    one = put_part(s3, bucket, "small", upload, 1, b"too small")
    two = put_part(s3, bucket, "small", upload, 2, b"last")
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="small",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": two}]
            },
        )
    assert code(raised) == "EntityTooSmall"
    assert status(raised) == 400


def test_a_wrong_etag_or_a_part_never_sent_is_invalid_part(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "k")
    etag = put_part(s3, bucket, "k", upload, 1, b"x")
    for parts in (
        [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}],
        [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": etag}],
    ):
        with pytest.raises(ClientError) as raised:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts}
            )
        assert code(raised) == "InvalidPart"
    # The upload is still open after a refused complete.
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )


@pytest.mark.parametrize("numbers", [[2, 1], [1, 1]])
def test_parts_out_of_order_are_invalid_part_order(
    s3: Any, bucket: str, numbers: list[int]
) -> None:
    upload = open_upload(s3, bucket, "order")
    etags = {n: put_part(s3, bucket, "order", upload, n, BIG) for n in set(numbers)}
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in numbers]},
        )
    assert code(raised) == "InvalidPartOrder"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part>",
        b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>e</ETag></Part>"
        b"</CompleteMultipartUpload>",
        b"garbage",
    ],
)
def test_a_malformed_complete_body_is_malformed_xml(
    deployment: Deployment, s3: Any, bucket: str, body: bytes
) -> None:
    upload = open_upload(s3, bucket, "mx")
    answer = deployment.http.post(f"/{bucket}/mx?uploadId={upload}", content=body)
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] in ("MalformedXML", "InvalidPart")


def test_an_unknown_upload_is_no_such_upload(deployment: Deployment, s3: Any, bucket: str) -> None:
    parts = {"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId="nope", MultipartUpload=parts)
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=bucket, Key="k", UploadId="nope")
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope")
    assert code(raised) == "NoSuchUpload"
    answer = deployment.http.delete(f"/{bucket}/k?uploadId=nope")
    assert error_of(answer)["Code"] == "NoSuchUpload"


def test_an_upload_id_reaches_only_its_own_key(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "mine")
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="other", UploadId=upload, PartNumber=1, Body=b"x")
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=bucket, Key="other", UploadId=upload)
    assert code(raised) == "NoSuchUpload"


def test_an_upload_to_a_missing_bucket(s3: Any) -> None:
    with pytest.raises(ClientError) as raised:
        s3.create_multipart_upload(Bucket=new_bucket(), Key="k")
    assert code(raised) == "NoSuchBucket"
    with pytest.raises(ClientError) as raised:
        s3.list_multipart_uploads(Bucket=new_bucket())
    assert code(raised) == "NoSuchBucket"


@pytest.mark.parametrize("number", ["0", "10001", "x", "-1"])
def test_a_part_number_out_of_bounds_is_an_invalid_argument(
    deployment: Deployment, s3: Any, bucket: str, number: str
) -> None:
    upload = open_upload(s3, bucket, "n")
    answer = deployment.http.put(f"/{bucket}/n?uploadId={upload}&partNumber={number}", content=b"x")
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidArgument"


def test_a_part_with_a_wrong_content_md5_is_bad_digest(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    upload = open_upload(s3, bucket, "md5")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    answer = deployment.http.put(
        f"/{bucket}/md5?uploadId={upload}&partNumber=1",
        content=b"part",
        headers={"Content-MD5": wrong},
    )
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="md5", UploadId=upload).get("Parts", []) == []


def test_a_part_with_a_wrong_crc32_is_bad_digest(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "crc")
    with pytest.raises(ClientError) as raised:
        s3.upload_part(
            Bucket=bucket,
            Key="crc",
            UploadId=upload,
            PartNumber=1,
            Body=b"part",
            ChecksumCRC32="AAAAAA==",
        )
    assert code(raised) == "BadDigest"


def test_upload_part_copy_with_a_range(s3: Any, bucket: str) -> None:
    source = bytes(range(256)) * (6 * MIB // 256)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload = open_upload(s3, bucket, "copied")
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="copied",
        UploadId=upload,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )["CopyPartResult"]["ETag"]
    assert first == f'"{hashlib.md5(source[: 5 * MIB]).hexdigest()}"'
    second = s3.upload_part_copy(
        Bucket=bucket,
        Key="copied",
        UploadId=upload,
        PartNumber=2,
        CopySource=f"{bucket}/source",
        CopySourceRange="bytes=100-199",
    )["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="copied",
        UploadId=upload,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first},
                {"PartNumber": 2, "ETag": second},
            ]
        },
    )
    got = s3.get_object(Bucket=bucket, Key="copied")["Body"].read()
    assert got == source[: 5 * MIB] + source[100:200]


def test_upload_part_copy_of_a_whole_object_and_its_refusals(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"whole source")
    upload = open_upload(s3, bucket, "dst")
    etag = s3.upload_part_copy(
        Bucket=bucket, Key="dst", UploadId=upload, PartNumber=1, CopySource=f"{bucket}/src"
    )["CopyPartResult"]["ETag"]
    assert etag == f'"{hashlib.md5(b"whole source").hexdigest()}"'
    for wrong_range in ("bytes=5-", "bytes=-3", "bytes=100-200", "items=0-1"):
        with pytest.raises(ClientError) as raised:
            s3.upload_part_copy(
                Bucket=bucket,
                Key="dst",
                UploadId=upload,
                PartNumber=2,
                CopySource=f"{bucket}/src",
                CopySourceRange=wrong_range,
            )
        assert code(raised) in ("InvalidArgument", "InvalidRange"), wrong_range
    with pytest.raises(ClientError) as raised:
        s3.upload_part_copy(
            Bucket=bucket, Key="dst", UploadId=upload, PartNumber=2, CopySource=f"{bucket}/none"
        )
    assert code(raised) == "NoSuchKey"


def test_list_parts_pages(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "parts")
    etags = [put_part(s3, bucket, "parts", upload, n, f"part {n}".encode()) for n in range(1, 6)]
    seen: list[int] = []
    marker = 0
    while True:
        page = s3.list_parts(
            Bucket=bucket, Key="parts", UploadId=upload, MaxParts=2, PartNumberMarker=marker
        )
        seen += [p["PartNumber"] for p in page["Parts"]]
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert seen == [1, 2, 3, 4, 5]
    whole = s3.list_parts(Bucket=bucket, Key="parts", UploadId=upload)
    assert [p["ETag"] for p in whole["Parts"]] == etags
    assert [p["Size"] for p in whole["Parts"]] == [6] * 5
    assert whole["UploadId"] == upload


def test_list_multipart_uploads_pages(deployment: Deployment, s3: Any) -> None:
    bucket = deployment.bucket()
    made = sorted(
        (key, open_upload(s3, bucket, key)) for key in ("u/a", "u/b", "u/b", "u/c", "v/d")
    )
    seen: list[tuple[str, str]] = []
    params: dict[str, Any] = {"Bucket": bucket, "MaxUploads": 2}
    for _ in range(10):
        page = s3.list_multipart_uploads(**params)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        params["KeyMarker"] = page["NextKeyMarker"]
        params["UploadIdMarker"] = page["NextUploadIdMarker"]
    assert sorted(seen) == made
    assert len(seen) == len(made)
    under = s3.list_multipart_uploads(Bucket=bucket, Prefix="u/")
    assert sorted(u["Key"] for u in under["Uploads"]) == ["u/a", "u/b", "u/b", "u/c"]


def test_abort_ends_an_upload(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "ab")
    put_part(s3, bucket, "ab", upload, 1, b"x")
    answer = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=upload)
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload, PartNumber=2, Body=b"x")
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="ab")
    assert code(raised) == "NoSuchKey"
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert upload not in [u["UploadId"] for u in listed.get("Uploads", [])]


def test_a_completed_upload_is_gone_from_the_listing_and_complete_repeats(
    s3: Any, bucket: str
) -> None:
    upload = open_upload(s3, bucket, "rep")
    etag = put_part(s3, bucket, "rep", upload, 1, b"x")
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="rep", UploadId=upload, MultipartUpload=parts
    )
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="rep", UploadId=upload, MultipartUpload=parts
    )
    assert again["ETag"] == done["ETag"]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert upload not in [u["UploadId"] for u in listed.get("Uploads", [])]


def test_boto3s_managed_transfer_uploads_in_parts(s3: Any, bucket: str, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    data = bytes(range(256)) * (11 * MIB // 256)
    path.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(path), bucket, "managed.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="managed.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "managed.bin", str(out), Config=config)
    assert out.read_bytes() == data


def test_a_completed_upload_takes_no_more_parts_and_no_abort(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "done")
    etag = put_part(s3, bucket, "done", upload, 1, b"x")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="done",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket=bucket, Key="done", UploadId=upload, PartNumber=2, Body=b"y")
    assert code(raised) == "NoSuchUpload"
    with pytest.raises(ClientError) as raised:
        s3.abort_multipart_upload(Bucket=bucket, Key="done", UploadId=upload)
    assert code(raised) == "NoSuchUpload"
    assert s3.get_object(Bucket=bucket, Key="done")["Body"].read() == b"x"


def test_an_aborted_upload_cannot_be_completed(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "ab2")
    etag = put_part(s3, bucket, "ab2", upload, 1, b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="ab2", UploadId=upload)
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ab2",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    assert code(raised) == "NoSuchUpload"


def test_a_validated_bucket_refuses_assembled_content_with_its_reason(
    deployment: Deployment, s3: Any
) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    upload = open_upload(s3, name, "doc.json", ContentType="application/json")
    one = put_part(s3, name, "doc.json", upload, 1, b'{"a": ' + b" " * (5 * MIB))
    two = put_part(s3, name, "doc.json", upload, 2, b"[")
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=name,
            Key="doc.json",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": two}]
            },
        )
    assert code(raised) == "InvalidContent"
    assert raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=name, Key="doc.json")
    assert status(raised) == 404


def test_list_multipart_uploads_pages_within_one_key(deployment: Deployment, s3: Any) -> None:
    bucket = deployment.bucket()
    made = sorted(open_upload(s3, bucket, "same") for _ in range(3))
    seen: list[str] = []
    params: dict[str, Any] = {"Bucket": bucket, "MaxUploads": 1}
    for _ in range(10):
        page = s3.list_multipart_uploads(**params)
        seen += [u["UploadId"] for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        assert page["NextKeyMarker"] == "same"
        params["KeyMarker"] = page["NextKeyMarker"]
        params["UploadIdMarker"] = page["NextUploadIdMarker"]
    assert sorted(seen) == made


def test_a_multipart_upload_without_a_type_is_sniffed_like_a_put(
    deployment: Deployment, s3: Any, tmp_path: Any
) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    path = tmp_path / "big.json"
    path.write_bytes(b'{"pad": "' + b"x" * (6 * MIB) + b'"}')
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(path), name, "big.json", Config=config)
    assert s3.head_object(Bucket=name, Key="big.json")["ContentType"] == "application/json"


def test_a_multipart_upload_without_a_type_is_refused_at_completion_if_nothing_matches(
    deployment: Deployment, s3: Any
) -> None:
    strict = deployment.bucket(BucketKinds.VALIDATED)
    upload = open_upload(s3, strict, "mystery", ContentType="binary/octet-stream")
    one = put_part(s3, strict, "mystery", upload, 1, b"plain text, no signature")
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=strict,
            Key="mystery",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one}]},
        )
    assert status(raised) == 415
    # The session is over: its parts are gone with it.
    with pytest.raises(ClientError) as raised:
        s3.list_parts(Bucket=strict, Key="mystery", UploadId=upload)
    assert code(raised) == "NoSuchUpload"
    loose = deployment.bucket(BucketKinds.ANY)
    for key, body, expected in (
        ("doc", b'\n  {"a": 1}', "application/json"),
        ("blob", b"plain text, no signature", "application/octet-stream"),
    ):
        upload = open_upload(s3, loose, key)
        one = put_part(s3, loose, key, upload, 1, body)
        s3.complete_multipart_upload(
            Bucket=loose,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one}]},
        )
        assert s3.head_object(Bucket=loose, Key=key)["ContentType"] == expected


def test_complete_takes_if_none_match_and_if_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="taken", Body=b"first")
    upload = open_upload(s3, bucket, "taken")
    etag = put_part(s3, bucket, "taken", upload, 1, b"second")
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
        )
    assert code(raised) == "PreconditionFailed"
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts, IfMatch='"0"'
        )
    assert code(raised) == "PreconditionFailed"
    # Nothing was joined: the upload is still open, the object unchanged.
    assert s3.get_object(Bucket=bucket, Key="taken")["Body"].read() == b"first"
    current = s3.head_object(Bucket=bucket, Key="taken")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts, IfMatch=current
    )
    assert done["ETag"] == multipart_etag(b"second")
    # A retry of the completion is answered with what it made, though the key now exists.
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*"
    )
    assert again["ETag"] == done["ETag"]


def test_a_part_declared_over_the_part_limit_is_refused_from_the_headers(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    upload = open_upload(s3, bucket, "huge")
    session = deployment.backends.metadata.get_upload(upload)
    answer = deployment.http.put(
        f"/{bucket}/huge?partNumber=1&uploadId={upload}",
        content=b"0\r\n\r\n",
        headers={
            "content-encoding": "aws-chunked",
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-decoded-content-length": str(session.max_part_size + 1),
        },
    )
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "EntityTooLarge"


def test_max_uploads_and_max_parts_zero_are_empty_untruncated_pages(s3: Any, bucket: str) -> None:
    upload = open_upload(s3, bucket, "zero")
    put_part(s3, bucket, "zero", upload, 1, b"x")
    uploads = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=0)
    assert uploads.get("Uploads", []) == []
    assert uploads["IsTruncated"] is False
    parts = s3.list_parts(Bucket=bucket, Key="zero", UploadId=upload, MaxParts=0)
    assert parts.get("Parts", []) == []
    assert parts["IsTruncated"] is False
