from __future__ import annotations

import pytest

from sangraha_core import (
    InvalidMetadataError,
    InvalidNameError,
    validate_bucket,
    validate_key,
    validate_metadata,
)


@pytest.mark.parametrize("name", ["abc", "my-bucket", "a.b.c", "x" * 63, "0bucket9"])
def test_good_buckets(name: str) -> None:
    assert validate_bucket(name) == name


@pytest.mark.parametrize(
    "name", ["ab", "x" * 64, "Upper", "-lead", "trail-", "a..b", "sp ace", "a_b", "ü-bucket"]
)
def test_bad_buckets(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_bucket(name)


@pytest.mark.parametrize(
    "key", ["a", "dir/file.json", "ünïcødé/文件.pdf", "a.b/..c/d..", "x" * 1024, "sp ace"]
)
def test_good_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../etc/passwd",
        "a/../b",
        "a/./b",
        "..",
        "/abs",
        "a//b",
        "nul\x00",
        "tab\tkey",
        "new\nline",
        "del\x7f",
        "back\\slash",
        "é" * 513,  # 1026 bytes of UTF-8
        "\ud800",
    ],
)
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_key(key)


def test_metadata_is_lowercased_and_bounded() -> None:
    assert validate_metadata({"Owner": "ann"}, max_entries=2, max_bytes=100) == {"owner": "ann"}
    with pytest.raises(InvalidMetadataError, match="at most 1"):
        validate_metadata({"a": "1", "b": "2"}, max_entries=1, max_bytes=100)
    with pytest.raises(InvalidMetadataError, match="bytes"):
        validate_metadata({"a": "x" * 200}, max_entries=5, max_bytes=100)
    with pytest.raises(InvalidMetadataError):
        validate_metadata({"bad name": "x"}, max_entries=5, max_bytes=100)
    with pytest.raises(InvalidMetadataError):
        validate_metadata({"a": "line\nbreak"}, max_entries=5, max_bytes=100)
