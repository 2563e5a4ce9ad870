"""Signature Version 2 through a running deployment with access control on: the URL a
default boto3 client presigns is fetched by a plain HTTP client, on the gateway and on the
v1 API, and a SigV2-header client (``signature_version="s3"``, as s3cmd signs) works."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import httpx
import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.e2e._s3clients import Gateway
from tests.gateway._support import Deployment, error_of

KEY = "shared/ünï code+100% sure.txt"


def default_client(secured: Deployment, key_id: str, secret: str) -> Any:
    """boto3 as users make it, with nothing but the endpoint and credentials given."""
    return boto3.client(
        "s3",
        endpoint_url=secured.s3_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def query_signed(url: str, key: tuple[str, str], expires: int) -> str:
    """``url`` presigned by botocore's SigV2 query signer, as boto3 presigns by default."""
    request = AWSRequest("GET", url)
    HmacV1QueryAuth(Credentials(*key), expires=expires).add_auth(request)
    signed = request.url
    assert isinstance(signed, str)
    return signed


def test_a_default_boto3_presigned_url_fetches_the_bytes(secured: Deployment) -> None:
    bucket = secured.bucket()
    body = b"fetched over a SigV2 presigned URL\n"
    writer = secured.s3(*secured.key(f"{bucket}:write"))
    writer.put_object(Bucket=bucket, Key=KEY, Body=body)
    other = writer.put_object(Bucket=bucket, Key="other.txt", Body=b"not shared")
    assert other["ResponseMetadata"]["HTTPStatusCode"] == 200

    reader = secured.key(f"{bucket}:read")
    url = default_client(secured, *reader).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": KEY,
            "ResponseContentDisposition": 'attachment; filename="copy.txt"',
        },
        ExpiresIn=300,
    )
    assert "AWSAccessKeyId=" in url and "X-Amz-Signature" not in url
    answer = httpx.get(url, timeout=90)
    assert answer.status_code == 200, answer.text
    assert answer.content == body
    assert answer.headers["content-disposition"] == 'attachment; filename="copy.txt"'

    # The signature covers the key and the overrides.
    for tampered in (
        url.replace(quote(KEY, safe="/~"), "other.txt"),
        url.replace("copy.txt", "evil.txt"),
    ):
        assert tampered != url
        refused = httpx.get(tampered, timeout=90)
        assert refused.status_code == 403
        assert error_of(refused)["Code"] == "SignatureDoesNotMatch"
    # A grant is still needed: the same URL signed with a key of another bucket is refused.
    stranger = secured.key(f"{secured.bucket()}:read")
    foreign = default_client(secured, *stranger).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": KEY}
    )
    denied = httpx.get(foreign, timeout=90)
    assert denied.status_code == 403 and error_of(denied)["Code"] == "AccessDenied"


def test_an_expired_sigv2_url_is_refused(secured: Deployment) -> None:
    bucket = secured.bucket()
    # Expired a minute ago: botocore's signer takes any lifetime, negative too.
    url = query_signed(f"{secured.s3_url}/{bucket}/k", secured.key(f"{bucket}:read"), -60)
    answer = httpx.get(url, timeout=90)
    assert answer.status_code == 403
    fields = error_of(answer)
    assert fields["Code"] == "AccessDenied" and "expired" in fields["Message"]


def test_a_sigv2_header_client_puts_lists_and_gets(secured: Deployment) -> None:
    bucket = secured.bucket()
    key_id, secret = secured.key(f"{bucket}:read,list,write")
    s3: Any = boto3.client(
        "s3",
        endpoint_url=secured.s3_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(
            signature_version="s3",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"signed with SigV2", Metadata={"owner": "ada"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [KEY]
    got = s3.get_object(Bucket=bucket, Key=KEY)
    assert got["Body"].read() == b"signed with SigV2"
    assert got["Metadata"] == {"owner": "ada"}
    # The subresources of a multipart upload (?uploads, ?uploadId=…&partNumber=…) are signed.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts.bin")["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in ((1, b"a" * (5 * 1024 * 1024)), (2, b"b"))
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="parts.bin", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert s3.head_object(Bucket=bucket, Key="parts.bin")["ContentLength"] == 5 * 1024 * 1024 + 1


def test_s3cmd_signing_with_sigv2_puts_lists_gets_and_deletes(
    secured: Deployment, tmp_path: Path
) -> None:
    if shutil.which("s3cmd") is None:
        pytest.skip("s3cmd is not installed (CI installs it from Debian)")
    bucket = secured.bucket()
    key_id, secret = secured.key(f"{bucket}:read,list,write,delete")
    gateway = Gateway(secured.s3_url, key_id, secret)

    def s3cmd(*args: str) -> str:
        return gateway.s3cmd(tmp_path, *args, signature_v2=True).stdout

    small = tmp_path / "small file.txt"
    small.write_bytes(b"s3cmd, SigV2\n")
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(6 * 1024 * 1024))
    s3cmd("put", str(small), f"s3://{bucket}/dir/small file.txt")
    # In two parts: ?uploads, ?partNumber=…&uploadId=… and the completion, all SigV2.
    s3cmd("put", "--multipart-chunk-size-mb=5", str(large), f"s3://{bucket}/large.bin")
    listed = s3cmd("ls", "--recursive", f"s3://{bucket}")
    assert "dir/small file.txt" in listed and "large.bin" in listed
    back = tmp_path / "back.bin"
    s3cmd("get", f"s3://{bucket}/large.bin", str(back))
    assert back.read_bytes() == large.read_bytes()
    s3cmd("del", f"s3://{bucket}/dir/small file.txt")
    assert "small file" not in s3cmd("ls", "--recursive", f"s3://{bucket}")


def test_the_v1_api_takes_a_sigv2_presigned_url(secured: Deployment) -> None:
    bucket = secured.bucket()
    secured.s3(*secured.key(f"{bucket}:write")).put_object(Bucket=bucket, Key="v1.txt", Body=b"v1")
    url = query_signed(
        f"{secured.v1_url}/v1/buckets/{bucket}/objects/v1.txt", secured.key(f"{bucket}:read"), 300
    )
    answer = httpx.get(url, timeout=90)
    assert answer.status_code == 200, answer.text
    assert answer.content == b"v1"
    tampered = httpx.get(url.replace("v1.txt", "v2.txt"), timeout=90)
    assert tampered.status_code == 401
