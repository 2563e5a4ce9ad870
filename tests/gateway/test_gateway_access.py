"""Access control through a running gateway with ``auth="keys"``: a key's grants decide each
operation, and a request that proves nothing is refused with S3's code for why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.gateway._support import Deployment, code, error_of, status


@pytest.fixture(scope="module")
def place(secured: Deployment) -> tuple[str, str]:
    """Two buckets: one the test keys are granted on, one they are not."""
    return secured.bucket(), secured.bucket()


def test_a_key_with_every_action_on_its_bucket(secured: Deployment, place: tuple[str, str]) -> None:
    mine, _ = place
    s3 = secured.s3(*secured.key(f"{mine}:read,list,write,delete"))
    s3.put_object(Bucket=mine, Key="k", Body=b"granted")
    assert s3.get_object(Bucket=mine, Key="k")["Body"].read() == b"granted"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=mine)["Contents"]] == ["k"]
    s3.delete_object(Bucket=mine, Key="k")


def test_a_key_without_the_grant_is_access_denied(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, theirs = place
    admin = secured.s3(*secured.key(f"{mine}:read,list,write,delete"))
    admin.put_object(Bucket=mine, Key="r", Body=b"x")
    reader = secured.s3(*secured.key(f"{mine}:read"))
    assert reader.get_object(Bucket=mine, Key="r")["Body"].read() == b"x"
    refused: list[Callable[[], object]] = [
        lambda: reader.put_object(Bucket=mine, Key="w", Body=b"x"),
        lambda: reader.delete_object(Bucket=mine, Key="r"),
        lambda: reader.list_objects_v2(Bucket=mine),
        lambda: reader.get_object(Bucket=theirs, Key="r"),
        lambda: reader.create_multipart_upload(Bucket=mine, Key="m"),
        lambda: reader.create_bucket(Bucket="gw-never-made"),
        lambda: reader.delete_bucket(Bucket=mine),
        lambda: reader.copy_object(Bucket=mine, Key="c", CopySource=f"{mine}/r"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as raised:
            call()
        assert code(raised) == "AccessDenied"
        assert status(raised) == 403
    # A copy needs read on the source bucket, not just write on the target.
    writer = secured.s3(*secured.key(f"{theirs}:write"))
    with pytest.raises(ClientError) as raised:
        writer.copy_object(Bucket=theirs, Key="c", CopySource=f"{mine}/r")
    assert code(raised) == "AccessDenied"


def test_delete_objects_without_the_grant_is_access_denied(
    secured: Deployment, place: tuple[str, str]
) -> None:
    # The delete grant is the bucket's: the request is refused as a whole, before its body.
    mine, _ = place
    writer = secured.s3(*secured.key(f"{mine}:write,read"))
    writer.put_object(Bucket=mine, Key="keep", Body=b"x")
    with pytest.raises(ClientError) as raised:
        writer.delete_objects(Bucket=mine, Delete={"Objects": [{"Key": "keep"}]})
    assert code(raised) == "AccessDenied"
    assert writer.get_object(Bucket=mine, Key="keep")["Body"].read() == b"x"


def test_list_buckets_shows_only_the_buckets_a_key_may_list(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, theirs = place
    lister = secured.s3(*secured.key(f"{mine}:list"))
    names = [b["Name"] for b in lister.list_buckets()["Buckets"]]
    assert mine in names
    assert theirs not in names


def test_an_unknown_key_id_is_invalid_access_key_id(secured: Deployment) -> None:
    stranger = secured.s3("AKIDNOTAKEYOFTHISSTORE", "whatever-secret")
    with pytest.raises(ClientError) as raised:
        stranger.list_buckets()
    assert code(raised) == "InvalidAccessKeyId"
    assert status(raised) == 403


def test_a_wrong_secret_is_signature_does_not_match(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, _ = place
    key_id, _secret = secured.key(f"{mine}:read,list")
    forger = secured.s3(key_id, "not-the-secret")
    for call in (
        forger.list_buckets,
        lambda: forger.list_objects_v2(Bucket=mine),
        lambda: forger.put_object(Bucket=mine, Key="f", Body=b"forged" * 1000),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert code(raised) == "SignatureDoesNotMatch"
        assert status(raised) == 403


def test_an_unsigned_request_is_refused_with_an_s3_error(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, _ = place
    answer = secured.http.get(f"/{mine}?list-type=2")
    assert answer.status_code == 403
    assert error_of(answer)["Code"] == "AccessDenied"
    bare = boto3.client(
        "s3",
        endpoint_url=secured.s3_url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as raised:
        bare.get_object(Bucket=mine, Key="anything")
    assert status(raised) == 403


def test_a_malformed_authorization_header(secured: Deployment, place: tuple[str, str]) -> None:
    mine, _ = place
    answer = secured.http.get(
        f"/{mine}", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=broken"}
    )
    assert answer.status_code in (400, 403)
    assert error_of(answer)["Code"] in ("AuthorizationHeaderMalformed", "AccessDenied")


def test_a_presigned_get_works_for_its_key_only(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, _ = place
    s3 = secured.s3(*secured.key(f"{mine}:read,write"))
    s3.put_object(Bucket=mine, Key="shared", Body=b"presigned")
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": mine, "Key": "shared"},
        ExpiresIn=int(timedelta(minutes=5).total_seconds()),
    )
    assert httpx.get(url).content == b"presigned"
    tampered = httpx.get(url.replace("/shared?", "/other?"))
    assert tampered.status_code == 403
    assert error_of(tampered)["Code"] == "SignatureDoesNotMatch"


def test_the_probes_need_no_key(secured: Deployment) -> None:
    assert secured.http.get("/_sangraha/healthz").status_code == 200


def _signed(
    secured: Deployment, key: tuple[str, str], method: str, path: str, body: bytes
) -> dict[str, str]:
    """The headers botocore signs ``body`` with (its SHA-256 in x-amz-content-sha256)."""
    request = AWSRequest(method=method, url=f"{secured.s3_url}{path}", data=body)
    S3SigV4Auth(Credentials(*key), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_a_body_other_than_the_one_signed_is_refused(
    secured: Deployment, place: tuple[str, str]
) -> None:
    mine, _ = place
    key = secured.key(f"{mine}:read,write")
    headers = _signed(secured, key, "PUT", f"/{mine}/signed", b"the signed body")
    good = httpx.put(f"{secured.s3_url}/{mine}/signed", content=b"the signed body", headers=headers)
    assert good.status_code == 200, good.text
    swapped = httpx.put(
        f"{secured.s3_url}/{mine}/signed", content=b"another body!!!", headers=headers
    )
    assert swapped.status_code in (400, 403)
    assert error_of(swapped)["Code"] in ("XAmzContentSHA256Mismatch", "BadDigest")
    s3 = secured.s3(*key)
    assert s3.get_object(Bucket=mine, Key="signed")["Body"].read() == b"the signed body"


def test_a_presigned_put_writes_and_only_there(secured: Deployment, place: tuple[str, str]) -> None:
    mine, _ = place
    s3 = secured.s3(*secured.key(f"{mine}:read,write"))
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": mine, "Key": "up"}, ExpiresIn=300
    )
    put = httpx.put(url, content=b"presigned put")
    assert put.status_code == 200, put.text
    assert s3.get_object(Bucket=mine, Key="up")["Body"].read() == b"presigned put"
    elsewhere = httpx.put(url.replace("/up?", "/down?"), content=b"x")
    assert elsewhere.status_code == 403


def test_a_presigned_delete_deletes(secured: Deployment, place: tuple[str, str]) -> None:
    mine, _ = place
    s3 = secured.s3(*secured.key(f"{mine}:read,write,delete"))
    s3.put_object(Bucket=mine, Key="doomed", Body=b"x")
    url = s3.generate_presigned_url(
        "delete_object", Params={"Bucket": mine, "Key": "doomed"}, ExpiresIn=300
    )
    assert httpx.delete(url).status_code == 204
    with pytest.raises(ClientError) as raised:
        s3.head_object(Bucket=mine, Key="doomed")
    assert status(raised) == 404


def test_a_signed_multipart_upload_and_copy(secured: Deployment, place: tuple[str, str]) -> None:
    mine, _ = place
    s3 = secured.s3(*secured.key(f"{mine}:read,list,write,delete"))
    big = b"p" * (5 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=mine, Key="mp", Metadata={"a": "b"})["UploadId"]
    one = s3.upload_part(Bucket=mine, Key="mp", UploadId=upload, PartNumber=1, Body=big)["ETag"]
    s3.put_object(Bucket=mine, Key="mp-src", Body=b"tail")
    two = s3.upload_part_copy(
        Bucket=mine, Key="mp", UploadId=upload, PartNumber=2, CopySource=f"{mine}/mp-src"
    )["CopyPartResult"]["ETag"]
    listed = s3.list_multipart_uploads(Bucket=mine)
    assert upload in [u["UploadId"] for u in listed["Uploads"]]
    s3.complete_multipart_upload(
        Bucket=mine,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one}, {"PartNumber": 2, "ETag": two}]},
    )
    got = s3.get_object(Bucket=mine, Key="mp")
    assert got["Body"].read() == big + b"tail"
    assert got["Metadata"] == {"a": "b"}
    s3.copy_object(Bucket=mine, Key="mp-copy", CopySource=f"{mine}/mp")
    assert s3.head_object(Bucket=mine, Key="mp-copy")["ContentLength"] == len(big) + 4
    result = s3.delete_objects(
        Bucket=mine, Delete={"Objects": [{"Key": k} for k in ("mp", "mp-copy", "mp-src")]}
    )
    assert len(result["Deleted"]) == 3
