from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _character_refused(key: str) -> str | None:
    """The rule on characters, one at a time: the first a key may not hold."""
    for ch in key:
        if unicodedata.category(ch) in ("Cc", "Cs", "Cn") or ch == "\\":
            return ch
    return None


# At most 256 characters: 1,024 bytes of UTF-8, never over the length limit.
@given(
    st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=256)
    | st.text(st.characters(exclude_categories=[]), min_size=1, max_size=256)
)
def test_keys_are_judged_by_the_rule_on_each_character(key: str) -> None:
    """The one-match check of plain ASCII keys refuses exactly what the rule refuses."""
    refused = _character_refused(key)
    if refused is not None:
        with pytest.raises(InvalidNameError, match=rf"\(found U\+{ord(refused):04X}\)"):
            validate_key(key)
        return
    try:
        validate_key(key)
    except InvalidNameError as exc:
        assert "control characters" not in str(exc)  # only its slashes and dots are wrong


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
