"""The configuration sub-resources tools read, answered as S3 answers an unconfigured bucket:
ACLs with the owner holding FULL_CONTROL, an empty object TagSet, and S3's 404 for each
configuration never set; a private ACL may be set (a no-op), nothing else."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e._s3clients import Gateway
from tests.gateway._support import Deployment, code, error_of, new_bucket, status

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
OWNER = {"ID": "sangraha", "DisplayName": "sangraha"}
FULL_CONTROL = [
    {
        "Grantee": {"ID": "sangraha", "DisplayName": "sangraha", "Type": "CanonicalUser"},
        "Permission": "FULL_CONTROL",
    }
]


def test_acls_name_the_owner_with_full_control(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"x")
    on_bucket = s3.get_bucket_acl(Bucket=bucket)
    assert on_bucket["Owner"] == OWNER and on_bucket["Grants"] == FULL_CONTROL
    on_object = s3.get_object_acl(Bucket=bucket, Key="k.txt")
    assert on_object["Owner"] == OWNER and on_object["Grants"] == FULL_CONTROL


def test_an_objects_tag_set_is_empty(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k.txt")["TagSet"] == []


def test_the_tag_set_document_is_s3s(deployment: Deployment, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"x")
    answer = deployment.http.get(f"/{bucket}/k.txt?tagging")
    assert answer.status_code == 200
    root = ET.fromstring(answer.content)
    assert root.tag == f"{S3NS}Tagging"
    assert [child.tag for child in root] == [f"{S3NS}TagSet"]


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (lambda s3, b: s3.get_bucket_policy(Bucket=b), "NoSuchBucketPolicy"),
        (lambda s3, b: s3.get_bucket_cors(Bucket=b), "NoSuchCORSConfiguration"),
        (
            lambda s3, b: s3.get_bucket_lifecycle_configuration(Bucket=b),
            "NoSuchLifecycleConfiguration",
        ),
        (lambda s3, b: s3.get_bucket_tagging(Bucket=b), "NoSuchTagSet"),
        (
            lambda s3, b: s3.get_bucket_encryption(Bucket=b),
            "ServerSideEncryptionConfigurationNotFoundError",
        ),
        (lambda s3, b: s3.get_bucket_website(Bucket=b), "NoSuchWebsiteConfiguration"),
    ],
)
def test_a_configuration_never_set_is_s3s_404(
    s3: Any, bucket: str, read: Callable[[Any, str], Any], expected: str
) -> None:
    with pytest.raises(ClientError) as raised:
        read(s3, bucket)
    assert status(raised) == 404
    assert code(raised) == expected
    # Of a bucket that does not exist, the bucket is what is missing.
    with pytest.raises(ClientError) as raised:
        read(s3, new_bucket())
    assert code(raised) == "NoSuchBucket"


@pytest.mark.parametrize("flag", ["acl", "tagging"])
def test_an_objects_configuration_needs_the_object(
    deployment: Deployment, bucket: str, flag: str
) -> None:
    missing_key = deployment.http.get(f"/{bucket}/missing?{flag}")
    assert missing_key.status_code == 404 and error_of(missing_key)["Code"] == "NoSuchKey"
    missing_bucket = deployment.http.get(f"/{new_bucket()}/k?{flag}")
    assert error_of(missing_bucket)["Code"] == "NoSuchBucket"


def test_a_private_acl_may_be_set_and_nothing_else(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k.txt", Body=b"x")
    s3.put_object_acl(Bucket=bucket, Key="k.txt", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert deployment.http.put(f"/{bucket}/k.txt?acl").status_code == 200
    refusals: list[Callable[[], Any]] = [
        lambda: s3.put_object_acl(Bucket=bucket, Key="k.txt", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write"),
        lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead="uri=http://acs.amazonaws.com/x"),
        lambda: s3.put_object_acl(
            Bucket=bucket,
            Key="k.txt",
            AccessControlPolicy={"Owner": OWNER, "Grants": FULL_CONTROL},
        ),
    ]
    for refused in refusals:
        with pytest.raises(ClientError) as raised:
            refused()
        assert status(raised) == 501 and code(raised) == "NotImplemented"
    with pytest.raises(ClientError) as raised:
        s3.put_object_acl(Bucket=bucket, Key="missing", ACL="private")
    assert code(raised) == "NoSuchKey"
    assert s3.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"x"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/{bucket}?tagging"),
        ("DELETE", "/{bucket}?tagging"),
        ("PUT", "/{bucket}?cors"),
        ("DELETE", "/{bucket}?policy"),
        ("PUT", "/{bucket}?encryption"),
        ("DELETE", "/{bucket}?website"),
        ("PUT", "/{bucket}/k.txt?tagging"),
        ("DELETE", "/{bucket}/k.txt?tagging"),
        ("GET", "/?acl"),
    ],
)
def test_changing_a_configuration_is_not_implemented(
    deployment: Deployment, bucket: str, method: str, path: str
) -> None:
    answer = deployment.http.request(method, path.format(bucket=bucket), content=b"<x/>")
    assert answer.status_code == 501
    assert error_of(answer)["Code"] == "NotImplemented"


def test_configuration_reads_need_the_keys_grants(secured: Deployment) -> None:
    bucket = secured.bucket()
    secured.s3(*secured.key(f"{bucket}:write")).put_object(Bucket=bucket, Key="k", Body=b"x")
    lister = secured.s3(*secured.key(f"{bucket}:list"))
    assert lister.get_bucket_acl(Bucket=bucket)["Grants"] == FULL_CONTROL
    with pytest.raises(ClientError) as raised:
        lister.get_object_tagging(Bucket=bucket, Key="k")
    assert code(raised) == "AccessDenied"
    reader = secured.s3(*secured.key(f"{bucket}:read"))
    assert reader.get_object_acl(Bucket=bucket, Key="k")["Owner"] == OWNER
    with pytest.raises(ClientError) as raised:
        reader.get_bucket_policy(Bucket=bucket)
    assert code(raised) == "AccessDenied"
    with pytest.raises(ClientError) as raised:
        reader.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert code(raised) == "AccessDenied"


def test_s3cmd_info_and_cp(secured: Deployment, tmp_path: Path) -> None:
    if shutil.which("s3cmd") is None:
        pytest.skip("s3cmd is not installed (CI installs it from Debian)")
    bucket = secured.bucket()
    key_id, secret = secured.key(f"{bucket}:read,list,write,delete")
    gateway = Gateway(secured.s3_url, key_id, secret)

    def s3cmd(*args: str) -> str:
        return gateway.s3cmd(tmp_path, *args, signature_v2=False).stdout

    source = tmp_path / "note.txt"
    source.write_bytes(b"configured nowhere\n")
    s3cmd("put", str(source), f"s3://{bucket}/note.txt")
    about_bucket = s3cmd("info", f"s3://{bucket}")
    assert "Policy:" in about_bucket and "CORS:" in about_bucket
    about_object = s3cmd("info", f"s3://{bucket}/note.txt")
    assert "ACL:" in about_object and "FULL_CONTROL" in about_object
    s3cmd("cp", f"s3://{bucket}/note.txt", f"s3://{bucket}/copy.txt")
    back = tmp_path / "copy.txt"
    s3cmd("get", f"s3://{bucket}/copy.txt", str(back))
    assert back.read_bytes() == source.read_bytes()
    s3cmd("setacl", "--acl-private", f"s3://{bucket}/copy.txt")
