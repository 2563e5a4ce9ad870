"""How the gateway refuses: the right S3 code and status for requests it does not serve,
and S3's ``<Error>`` document (Code, Message, RequestId) on every refusal."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.gateway._support import Deployment, code, error_of, new_bucket


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/"),
        ("DELETE", "/"),
        ("POST", "/"),
        ("HEAD", "/"),
        ("POST", "/{bucket}"),
        ("POST", "/{bucket}/key"),
    ],
)
def test_a_method_the_target_does_not_take_is_method_not_allowed(
    deployment: Deployment, bucket: str, method: str, path: str
) -> None:
    answer = deployment.http.request(method, path.format(bucket=bucket))
    assert answer.status_code == 405
    assert answer.headers["x-amz-request-id"]
    if method != "HEAD":
        assert error_of(answer)["Code"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/{bucket}?logging"),
        ("PUT", "/{bucket}?policy"),
        ("DELETE", "/{bucket}?cors"),
        ("PUT", "/{bucket}?lifecycle"),
        ("GET", "/{bucket}?versions"),
        ("PUT", "/{bucket}?versioning"),
        ("DELETE", "/{bucket}/key?tagging"),
        ("PUT", "/{bucket}/key?tagging"),
        ("POST", "/{bucket}/key?restore"),
        ("POST", "/{bucket}/key?select&select-type=2"),
    ],
)
def test_an_operation_not_served_is_not_implemented(
    deployment: Deployment, bucket: str, method: str, path: str
) -> None:
    answer = deployment.http.request(method, path.format(bucket=bucket))
    assert answer.status_code == 501
    assert error_of(answer)["Code"] == "NotImplemented"


def test_an_unsupported_operation_is_refused_before_the_bucket_is_looked_up(
    deployment: Deployment,
) -> None:
    answer = deployment.http.get(f"/{new_bucket()}?logging")
    assert answer.status_code == 501
    assert error_of(answer)["Code"] == "NotImplemented"


def test_a_path_that_is_not_utf8_is_invalid_uri(deployment: Deployment, bucket: str) -> None:
    answer = deployment.http.get(f"/{bucket}/%ff%fe")
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidURI"


def test_every_error_names_its_request(deployment: Deployment, bucket: str) -> None:
    ids = set()
    for path in (f"/{new_bucket()}", f"/{bucket}/missing", f"/{bucket}?logging"):
        answer = deployment.http.get(path)
        fields = error_of(answer)
        assert fields["Message"]
        ids.add(fields["RequestId"])
    assert len(ids) == 3


def test_a_head_refusal_has_no_body(deployment: Deployment, bucket: str) -> None:
    answer = deployment.http.head(f"/{bucket}/missing")
    assert answer.status_code == 404
    assert answer.content == b""
    assert answer.headers["x-amz-request-id"]


def test_the_probes_answer_beside_s3(deployment: Deployment) -> None:
    assert deployment.http.get("/_sangraha/healthz").status_code == 200
    assert deployment.http.get("/_sangraha/readyz").status_code == 200


def test_a_query_that_is_not_utf8_is_refused_in_s3s_words(
    deployment: Deployment, bucket: str
) -> None:
    answer = deployment.http.get(f"/{bucket}?prefix=%ff")
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidArgument"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_put_refused_before_its_body_leaves_the_client_working(
    deployment: Deployment, bucket: str
) -> None:
    # boto3 waits for 100 Continue and then sends no body; the next request on that
    # connection must not be read as the rest of it.
    s3 = deployment.s3()
    s3.put_object(Bucket=bucket, Key="there", Body=b"x" * 10000)
    for _ in range(3):
        with pytest.raises(ClientError) as raised:
            s3.put_object(Bucket=bucket, Key="there", Body=b"y" * 10000, IfNoneMatch="*")
        assert code(raised) == "PreconditionFailed"
        with pytest.raises(ClientError) as raised:
            s3.put_object(Bucket=new_bucket(), Key="k", Body=b"y" * 10000)
        assert code(raised) == "NoSuchBucket"
        assert s3.get_object(Bucket=bucket, Key="there")["Body"].read() == b"x" * 10000


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH"])
def test_a_method_s3_does_not_know_is_method_not_allowed_in_xml(
    deployment: Deployment, bucket: str, method: str
) -> None:
    for path in ("/", f"/{bucket}", f"/{bucket}/k"):
        answer = deployment.http.request(method, path)
        assert answer.status_code == 405
        assert error_of(answer)["Code"] == "MethodNotAllowed"


@pytest.mark.parametrize("path", ["/%08", "/bad%01name/k", "/%1f"])
def test_an_error_naming_a_control_character_is_still_xml(
    deployment: Deployment, path: str
) -> None:
    answer = deployment.http.get(path)
    assert answer.status_code == 400
    assert error_of(answer)["Code"] == "InvalidBucketName"


@pytest.mark.parametrize("path", ["/%0A", "/b%0Ab", "/bucket/a%0Ab", "/bucket/%0D%0A"])
def test_a_path_no_route_pattern_matches_is_still_answered_by_s3(
    deployment: Deployment, path: str
) -> None:
    answer = deployment.http.get(path)
    assert 400 <= answer.status_code < 500
    assert error_of(answer)["Code"] in ("InvalidBucketName", "NoSuchBucket", "InvalidArgument")


def test_a_method_no_route_takes_is_method_not_allowed(deployment: Deployment) -> None:
    answer = deployment.http.request("PROPFIND", "/")
    assert answer.status_code == 405
    assert error_of(answer)["Code"] == "MethodNotAllowed"


@pytest.mark.parametrize("flag", ["metadataTable", "session", "uploads", "somethingNew=1"])
def test_a_delete_with_an_unknown_flag_deletes_nothing(deployment: Deployment, flag: str) -> None:
    s3 = deployment.s3()
    bucket = deployment.bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    on_object = deployment.http.delete(f"/{bucket}/k?{flag}")
    assert on_object.status_code == 501
    assert error_of(on_object)["Code"] == "NotImplemented"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    s3.delete_object(Bucket=bucket, Key="k")
    on_bucket = deployment.http.delete(f"/{bucket}?{flag}")
    assert on_bucket.status_code == 501
    s3.head_bucket(Bucket=bucket)
    # botocore's operation name in the query is no flag.
    assert deployment.http.delete(f"/{bucket}?x-id=DeleteBucket").status_code == 204


@pytest.mark.parametrize("flag", ["renameObject", "somethingNew=1"])
def test_a_put_with_an_unknown_flag_stores_nothing(
    deployment: Deployment, bucket: str, flag: str
) -> None:
    s3 = deployment.s3()
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    answer = deployment.http.put(f"/{bucket}/k?{flag}", content=b"overwritten")
    assert answer.status_code == 501
    assert error_of(answer)["Code"] == "NotImplemented"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    assert deployment.http.put(f"/{bucket}/k?x-id=PutObject", content=b"new").status_code == 200
