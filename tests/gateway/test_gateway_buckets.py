"""Bucket operations through a running gateway: ListBuckets, CreateBucket, HeadBucket,
DeleteBucket, GetBucketLocation and GetBucketVersioning, and every code each answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

import sangraha_gateway
from sangraha_core import Backends, BucketKinds, Settings
from tests.gateway._support import Deployment, code, error_of, new_bucket


def test_create_head_list_and_delete_a_bucket(deployment: Deployment, s3: Any) -> None:
    name = new_bucket()
    made = s3.create_bucket(Bucket=name)
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert made["Location"] == f"/{name}"
    # S3's CreateBucket takes the server's kind policy.
    kinds = deployment.backends.settings.bucket_kinds
    assert deployment.backends.metadata.get_bucket(name).kinds == kinds
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_bucket_made_twice_is_already_owned_by_you(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket=bucket)
    assert code(raised) == "BucketAlreadyOwnedByYou"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_a_bucket_in_this_region_is_made_and_another_region_refused(s3: Any) -> None:
    name = new_bucket()
    with pytest.raises(ClientError) as raised:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code(raised) == "InvalidLocationConstraint"
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)


def test_a_create_bucket_body_that_is_not_xml_is_malformed(deployment: Deployment) -> None:
    answer = deployment.http.put(f"/{new_bucket()}", content=b"<CreateBucketConfiguration")
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "MalformedXML"


@pytest.mark.parametrize("name", ["Upper-Case", "ab", "a_b_c", "-leading", "a" * 64, "a..b"])
def test_a_bad_bucket_name_is_invalid_bucket_name(deployment: Deployment, name: str) -> None:
    answer = deployment.http.put(f"/{name}")
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "InvalidBucketName"


def test_a_missing_bucket_is_no_such_bucket(deployment: Deployment, s3: Any) -> None:
    name = new_bucket()
    with pytest.raises(ClientError) as raised:
        s3.head_bucket(Bucket=name)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for call in (s3.delete_bucket, s3.get_bucket_location, s3.get_bucket_versioning):
        with pytest.raises(ClientError) as raised:
            call(Bucket=name)
        assert code(raised) == "NoSuchBucket"
    answer = deployment.http.delete(f"/{name}")
    assert answer.status_code == 404
    assert error_of(answer)["Code"] == "NoSuchBucket"


def test_a_bucket_holding_objects_is_not_deleted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as raised:
        s3.delete_bucket(Bucket=bucket)
    assert code(raised) == "BucketNotEmpty"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_location_and_versioning(s3: Any, bucket: str) -> None:
    # us-east-1 is S3's empty LocationConstraint.
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") in (None, "")
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in versioning


def test_a_validated_bucket_made_directly_is_listed(deployment: Deployment, s3: Any) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    listed = s3.list_buckets()
    entry = next(b for b in listed["Buckets"] if b["Name"] == name)
    assert entry["CreationDate"] is not None
    assert listed["Owner"]["ID"]


@pytest.mark.anyio
@pytest.mark.parametrize("kinds", [BucketKinds.ANY, BucketKinds.VALIDATED])
async def test_create_bucket_takes_the_servers_kind_policy(
    tmp_path: Path, kinds: BucketKinds
) -> None:
    backends = Backends.from_settings(Settings(data_dir=tmp_path, auth="off", bucket_kinds=kinds))
    try:
        transport = httpx.ASGITransport(app=sangraha_gateway.create_app(backends=backends))
        async with httpx.AsyncClient(transport=transport, base_url="http://s3") as client:
            made = await client.put("/made-by-s3")
            assert made.status_code == 200, made.text
        assert backends.metadata.get_bucket("made-by-s3").kinds is kinds
    finally:
        backends.close()


def test_a_bucket_put_with_an_unknown_flag_creates_no_bucket(deployment: Deployment) -> None:
    name = new_bucket()
    answer = deployment.http.put(f"/{name}?metadataConfiguration", content=b"<x/>")
    assert answer.status_code == 501, answer.text
    assert error_of(answer)["Code"] == "NotImplemented"
    assert name not in [b.name for b in deployment.backends.metadata.list_buckets()]
