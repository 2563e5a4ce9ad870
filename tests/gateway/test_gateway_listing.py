"""ListObjects (v1) and ListObjectsV2 through a running gateway: prefix, delimiter and
CommonPrefixes, marker, start-after, paging past max-keys, encoding-type=url, and which
version of a key a listing shows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sangraha_core import BucketKinds
from tests.gateway._support import Deployment, code, error_of, new_bucket

TREE = ["a.txt", "b/1", "b/2", "b/c/3", "d/4", "e.txt"]


@pytest.fixture
def tree(s3: Any, bucket: str) -> str:
    for key in TREE:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def keys_of(page: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in page.get("Contents", [])]


def prefixes_of(page: dict[str, Any]) -> list[str]:
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


def test_a_listing_of_everything(s3: Any, tree: str) -> None:
    v2 = s3.list_objects_v2(Bucket=tree)
    assert keys_of(v2) == TREE
    assert v2["KeyCount"] == len(TREE)
    assert not v2["IsTruncated"]
    first = v2["Contents"][0]
    assert first["Size"] == 5 and first["ETag"].startswith('"')
    assert "Owner" not in first
    assert "Owner" in s3.list_objects_v2(Bucket=tree, FetchOwner=True)["Contents"][0]
    v1 = s3.list_objects(Bucket=tree)
    assert keys_of(v1) == TREE
    assert "Owner" in v1["Contents"][0]


def test_an_empty_bucket_lists_nothing(s3: Any, bucket: str) -> None:
    page = s3.list_objects_v2(Bucket=bucket)
    assert page["KeyCount"] == 0
    assert "Contents" not in page


@pytest.mark.parametrize("version", [1, 2])
def test_prefix_and_delimiter(s3: Any, tree: str, version: int) -> None:
    listing = s3.list_objects if version == 1 else s3.list_objects_v2
    top = listing(Bucket=tree, Delimiter="/")
    assert keys_of(top) == ["a.txt", "e.txt"]
    assert prefixes_of(top) == ["b/", "d/"]
    inside = listing(Bucket=tree, Prefix="b/", Delimiter="/")
    assert keys_of(inside) == ["b/1", "b/2"]
    assert prefixes_of(inside) == ["b/c/"]
    assert keys_of(listing(Bucket=tree, Prefix="b/")) == ["b/1", "b/2", "b/c/3"]
    assert keys_of(listing(Bucket=tree, Prefix="zzz")) == []


def test_a_delimiter_other_than_slash(s3: Any, tree: str) -> None:
    page = s3.list_objects_v2(Bucket=tree, Delimiter=".")
    assert prefixes_of(page) == ["a.", "e."]
    assert keys_of(page) == ["b/1", "b/2", "b/c/3", "d/4"]


def test_marker_and_start_after(s3: Any, tree: str) -> None:
    assert keys_of(s3.list_objects(Bucket=tree, Marker="b/2")) == ["b/c/3", "d/4", "e.txt"]
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="b/2")) == [
        "b/c/3",
        "d/4",
        "e.txt",
    ]
    page = s3.list_objects_v2(Bucket=tree, StartAfter="a", Delimiter="/")
    assert keys_of(page) == ["a.txt", "e.txt"]
    assert page["StartAfter"] == "a"


def test_v1_pages_by_marker(s3: Any, tree: str) -> None:
    seen: list[str] = []
    marker = ""
    for _ in range(10):
        page = s3.list_objects(Bucket=tree, MaxKeys=2, Marker=marker)
        seen += keys_of(page)
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or page["Contents"][-1]["Key"]
    assert seen == TREE


def test_v1_next_marker_with_a_delimiter_may_be_a_prefix(s3: Any, tree: str) -> None:
    page = s3.list_objects(Bucket=tree, MaxKeys=2, Delimiter="/")
    assert page["IsTruncated"]
    assert keys_of(page) + prefixes_of(page) == ["a.txt", "b/"]
    assert page["NextMarker"] == "b/"
    rest = s3.list_objects(Bucket=tree, Delimiter="/", Marker=page["NextMarker"])
    assert keys_of(rest) == ["e.txt"]
    assert prefixes_of(rest) == ["d/"]


def test_v2_pages_by_continuation_token_past_max_keys(
    deployment: Deployment, s3: Any, bucket: str
) -> None:
    keys = [f"many/{i:04d}" for i in range(23)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 5}
        if token:
            params["ContinuationToken"] = token
        page = s3.list_objects_v2(**params)
        pages += 1
        assert page["KeyCount"] == len(page.get("Contents", []))
        seen += keys_of(page)
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
    assert seen == keys
    assert pages == 5
    paginated = [
        k
        for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 7}
        )
        for k in keys_of(p)
    ]
    assert paginated == keys


def test_v2_pages_common_prefixes_too(s3: Any, bucket: str) -> None:
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"dir{i}/x", Body=b"x")
        s3.put_object(Bucket=bucket, Key=f"file{i}", Body=b"x")
    seen: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 4}
    ):
        assert page["KeyCount"] <= 4
        seen += prefixes_of(page) + keys_of(page)
    assert sorted(seen) == sorted([f"dir{i}/" for i in range(6)] + [f"file{i}" for i in range(6)])
    assert len(seen) == 12


def test_max_keys_zero_and_over_a_thousand(s3: Any, tree: str) -> None:
    zero = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert keys_of(zero) == []
    # Nothing asked, nothing to go on to: not a truncated page without a token.
    assert zero["IsTruncated"] is False
    assert "NextContinuationToken" not in zero
    for delimiter in ("", "/"):
        v1 = s3.list_objects(Bucket=tree, MaxKeys=0, Delimiter=delimiter)
        assert keys_of(v1) == [] and prefixes_of(v1) == []
        assert v1["IsTruncated"] is False
        assert "NextMarker" not in v1
    big = s3.list_objects_v2(Bucket=tree, MaxKeys=5000)
    assert big["MaxKeys"] == 1000
    assert keys_of(big) == TREE


AWKWARD = ["a b", "amp&lt", "<tag>", "ünï", "plus+", "%41", "quote'\"", "]]>"]


@pytest.mark.parametrize("version", [1, 2])
def test_encoding_type_url_carries_awkward_keys(
    deployment: Deployment, s3: Any, bucket: str, version: int
) -> None:
    for key in AWKWARD:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listing = s3.list_objects if version == 1 else s3.list_objects_v2
    # boto3 asks for encoding-type=url and decodes what it gets.
    assert keys_of(listing(Bucket=bucket)) == sorted(AWKWARD)
    query = "?encoding-type=url" + ("&list-type=2" if version == 2 else "")
    raw = deployment.http.get(f"/{bucket}{query}")
    assert raw.status_code == 200
    assert b"<EncodingType>url</EncodingType>" in raw.content
    # S3 encodes as quote_plus: a space is "+", a "+" is "%2B".
    assert b"<Key>a+b</Key>" in raw.content
    assert b"<Key>plus%2B</Key>" in raw.content
    assert b"<Key>%2541</Key>" in raw.content


def test_encoding_type_url_with_a_prefix_and_delimiter(s3: Any, bucket: str) -> None:
    for key in ("sp ace/a", "sp ace/b/c", "sp ace/ü/d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    page = s3.list_objects_v2(Bucket=bucket, Prefix="sp ace/", Delimiter="/")
    assert keys_of(page) == ["sp ace/a"]
    assert prefixes_of(page) == ["sp ace/b/", "sp ace/ü/"]
    assert page["Prefix"] == "sp ace/"


def test_a_key_whose_newest_version_failed_is_listed_by_its_older_one(
    deployment: Deployment, s3: Any
) -> None:
    name = deployment.bucket(BucketKinds.VALIDATED)
    etag = s3.put_object(
        Bucket=name, Key="doc.json", Body=b'{"v": 1}', ContentType="application/json"
    )["ETag"]
    refused = deployment.http.put(
        f"/{name}/doc.json", content=b'{"v": ', headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 400
    only_failed = deployment.http.put(
        f"/{name}/never.json", content=b"[", headers={"Content-Type": "application/json"}
    )
    assert only_failed.status_code == 400
    for listing in (s3.list_objects, s3.list_objects_v2):
        page = listing(Bucket=name)
        assert keys_of(page) == ["doc.json"]
        assert page["Contents"][0]["ETag"] == etag
        assert page["Contents"][0]["Size"] == len(b'{"v": 1}')


def test_a_listing_of_a_missing_bucket(s3: Any) -> None:
    for listing in (s3.list_objects, s3.list_objects_v2):
        with pytest.raises(ClientError) as raised:
            listing(Bucket=new_bucket())
        assert code(raised) == "NoSuchBucket"


@pytest.mark.parametrize(
    "query",
    [
        "max-keys=-1",
        "max-keys=abc",
        "max-keys=99999999999",
        "encoding-type=base64",
        "list-type=2&continuation-token=%%%",
        "list-type=2&continuation-token=bm90LXV0Zjj/",
    ],
)
def test_bad_listing_parameters_are_invalid_arguments(
    deployment: Deployment, bucket: str, query: str
) -> None:
    answer = deployment.http.get(f"/{bucket}?{query}")
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["Code"] == "InvalidArgument"


@pytest.mark.parametrize(
    ("listing", "name"),
    [
        ("", "prefix"),
        ("", "delimiter"),
        ("", "marker"),
        ("list-type=2&", "prefix"),
        ("list-type=2&", "delimiter"),
        ("list-type=2&", "start-after"),
        ("uploads&", "prefix"),
        ("uploads&", "key-marker"),
        ("uploads&", "upload-id-marker"),
    ],
)
def test_an_echoed_parameter_xml_cannot_carry_is_refused_unless_url_encoded(
    deployment: Deployment, bucket: str, listing: str, name: str
) -> None:
    refused = deployment.http.get(f"/{bucket}?{listing}{name}=a%01b")
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["Code"] == "InvalidArgument"
    if listing != "uploads&":
        encoded = deployment.http.get(f"/{bucket}?{listing}{name}=a%01b&encoding-type=url")
        assert encoded.status_code == 200, encoded.text
        ET.fromstring(encoded.content)
