"""The read rules, without a server: ranges, validators, dispositions and read plans."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sangraha_core import (
    CACHE_IMMUTABLE,
    Digest,
    InvalidMetadataError,
    InvalidNameError,
    InvalidRangeError,
    ObjectFailedError,
    ObjectKind,
    ObjectNotFoundError,
    ObjectPendingError,
    ObjectRecord,
    ObjectStatus,
    Representation,
    content_disposition,
    encode_header_value,
    etag_for,
    http_date,
    if_none_match_matches,
    if_range_matches,
    meta_filters,
    parse_range,
    plan_read,
    require_ready,
    validate_prefix,
)

DIGEST = Digest.of(b"hello")
ETAG = etag_for(DIGEST)
WHEN = datetime(2024, 5, 17, 8, 30, 15, tzinfo=UTC)


# -- Range ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=0-9", 10, (0, 10)),
        ("bytes=2-5", 10, (2, 6)),
        ("bytes=2-500", 10, (2, 10)),  # the end is clamped to the size
        ("bytes=9-", 10, (9, 10)),
        ("bytes=0-", 10, (0, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-10", 10, (0, 10)),
        ("bytes=-500", 10, (0, 10)),  # a suffix longer than the content is all of it
        ("BYTES = 1 - 2", 10, (1, 3)),
    ],
)
def test_single_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,3-4",  # several ranges: served whole, as RFC 9110 allows
        "bytes=5-2",  # last before first is invalid syntax
        "bytes=-",
        "bytes=",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=\u0661-2",  # a non-ASCII digit
        "items=0-1",
        "0-1",
        "",
    ],
)
def test_ranges_that_are_ignored(header: str) -> None:
    assert parse_range(header, 10) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=0-", 0), ("bytes=-0", 10), ("bytes=-0", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(InvalidRangeError) as caught:
        parse_range(header, size)
    assert caught.value.size == size


def test_suffix_of_empty_content_is_the_whole_of_it() -> None:
    assert parse_range("bytes=-5", 0) is None


@given(
    size=st.integers(min_value=0, max_value=10_000),
    first=st.integers(min_value=0, max_value=12_000),
    length=st.integers(min_value=0, max_value=12_000),
)
def test_ranges_always_lie_inside_the_content(size: int, first: int, length: int) -> None:
    try:
        selected = parse_range(f"bytes={first}-{first + length}", size)
    except InvalidRangeError:
        assert first >= size
        return
    assert selected is not None
    start, end = selected
    assert start == first
    assert 0 <= start < end <= size
    assert end == min(first + length + 1, size)


# -- If-None-Match and If-Range --------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [ETAG, f"W/{ETAG}", "*", f'"other", {ETAG}', f'W/"other" ,  W/{ETAG}', f" {ETAG} "],
)
def test_if_none_match_matches(header: str) -> None:
    assert if_none_match_matches(header, ETAG)


@pytest.mark.parametrize(
    "header", ['"other"', f'"{DIGEST.hex}"', "", "garbage", f"{ETAG} junk", ETAG[:-1]]
)
def test_if_none_match_does_not_match(header: str) -> None:
    assert not if_none_match_matches(header, ETAG)


def test_if_range_needs_a_strong_match_or_the_exact_date() -> None:
    assert if_range_matches(ETAG, ETAG, WHEN)
    assert not if_range_matches(f"W/{ETAG}", ETAG, WHEN)
    assert not if_range_matches('"other"', ETAG, WHEN)
    assert if_range_matches(http_date(WHEN), ETAG, WHEN)
    assert not if_range_matches(http_date(WHEN - timedelta(seconds=1)), ETAG, WHEN)
    assert not if_range_matches(http_date(WHEN), ETAG, None)
    assert not if_range_matches("not a date", ETAG, WHEN)


def test_http_date() -> None:
    assert http_date(WHEN) == "Fri, 17 May 2024 08:30:15 GMT"
    assert http_date(WHEN.replace(tzinfo=None)) == "Fri, 17 May 2024 08:30:15 GMT"


# -- Content-Disposition and header values ---------------------------------------------------


def test_disposition_of_a_plain_name() -> None:
    assert content_disposition("photos/2024/cat.png") == (
        "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    )


@pytest.mark.parametrize(
    "key",
    [
        'a/evil"; filename="x.exe',
        "a/back\\slash",
        "a/na\u00efve r\u00e9sum\u00e9.pdf",
        "a/\u65e5\u672c\u8a9e.json",
        "a/100%.json",
        "a/semi;colon,comma",
        "a/\u2028line\u2029sep",
        "trailing/",
    ],
)
def test_disposition_survives_hostile_names(key: str) -> None:
    value = content_disposition(key)
    value.encode("ascii")  # every header value must be plain ASCII
    head, _, encoded = value.partition("; filename*=UTF-8''")
    assert head.startswith('inline; filename="') and head.endswith('"')
    assert head.count('"') == 2  # nothing inside can close the quoted name early
    assert re.fullmatch(r"(?:[A-Za-z0-9!#$&+.^_`|~-]|%[0-9A-F]{2})+", encoded)
    name = next(s for s in reversed(key.split("/")) if s)
    assert unquote(encoded) == name


def test_header_values() -> None:
    assert encode_header_value("plain value") == "plain value"
    assert encode_header_value("caf\u00e9") == "UTF-8''caf%C3%A9"
    assert encode_header_value(" padded") == "UTF-8''%20padded"
    assert encode_header_value("") == "UTF-8''"
    assert encode_header_value("UTF-8''x") == "UTF-8''UTF-8%27%27x"


# -- plans -----------------------------------------------------------------------------------


def _rep(size: int = 10) -> Representation:
    return Representation(
        digest=DIGEST,
        size=size,
        content_type="application/json",
        last_modified=WHEN,
        filename_key="docs/a.json",
        object_id="0" * 32,
        metadata={"owner": "ann", "city": "K\u00f8benhavn"},
    )


def test_plan_whole() -> None:
    plan = plan_read(_rep(), {})
    assert (plan.status, plan.start, plan.end, plan.has_body) == (200, 0, 10, True)
    assert plan.headers["ETag"] == ETAG
    assert plan.headers["Content-Length"] == "10"
    assert plan.headers["Content-Type"] == "application/json"
    assert plan.headers["Cache-Control"] == "no-cache"
    assert plan.headers["Last-Modified"] == http_date(WHEN)
    assert plan.headers["x-sangraha-id"] == "0" * 32
    assert plan.headers["x-sangraha-meta-owner"] == "ann"
    assert plan.headers["x-sangraha-meta-city"] == "UTF-8''K%C3%B8benhavn"
    assert "Content-Range" not in plan.headers


def test_plan_range_and_immutable_cache() -> None:
    plan = plan_read(_rep(), {"range": "bytes=-4"}, cache_control=CACHE_IMMUTABLE)
    assert (plan.status, plan.start, plan.end) == (206, 6, 10)
    assert plan.headers["Content-Range"] == "bytes 6-9/10"
    assert plan.headers["Content-Length"] == "4"
    assert plan.headers["Cache-Control"] == CACHE_IMMUTABLE


def test_plan_not_modified_wins_over_range() -> None:
    plan = plan_read(_rep(), {"if-none-match": f"W/{ETAG}", "range": "bytes=0-1"})
    assert plan.status == 304
    assert not plan.has_body
    assert plan.headers["ETag"] == ETAG
    assert "Content-Length" not in plan.headers


def test_plan_if_range_mismatch_sends_everything() -> None:
    plan = plan_read(_rep(), {"range": "bytes=0-1", "if-range": '"old"'})
    assert plan.status == 200
    plan = plan_read(_rep(), {"range": "bytes=0-1", "if-range": ETAG})
    assert plan.status == 206


def test_plan_head_ignores_range() -> None:
    plan = plan_read(_rep(), {"range": "bytes=0-1"}, method="HEAD")
    assert plan.status == 200
    assert plan.headers["Content-Length"] == "10"


def test_plan_unsatisfiable() -> None:
    with pytest.raises(InvalidRangeError):
        plan_read(_rep(), {"range": "bytes=10-"})


def test_plan_empty_content() -> None:
    plan = plan_read(_rep(0), {"range": "bytes=-1"})
    assert (plan.status, plan.has_body) == (200, False)
    assert plan.headers["Content-Length"] == "0"


def test_plan_bad_content_type_falls_back() -> None:
    rep = Representation(digest=DIGEST, size=1, content_type="text/html\r\nX-Evil: 1")
    plan = plan_read(rep, {})
    assert plan.headers["Content-Type"] == "application/octet-stream"
    assert "Content-Disposition" not in plan.headers
    assert "x-sangraha-id" not in plan.headers


# -- records ---------------------------------------------------------------------------------


def _record(status: ObjectStatus, error: str | None = None) -> ObjectRecord:
    return ObjectRecord(
        id="1" * 32,
        bucket="docs",
        key="a.json",
        status=status,
        kind=ObjectKind.JSON,
        content_type="application/json",
        size=2,
        digest=DIGEST,
        created_at=WHEN,
        updated_at=WHEN,
        error=error,
    )


def test_require_ready() -> None:
    ready = _record(ObjectStatus.READY)
    assert require_ready(ready) is ready
    with pytest.raises(ObjectPendingError):
        require_ready(_record(ObjectStatus.PENDING))
    with pytest.raises(ObjectFailedError) as caught:
        require_ready(_record(ObjectStatus.FAILED, "not JSON"))
    assert caught.value.reason == "not JSON"
    # Answered as a 404 wherever it is not turned into a 409 on purpose.
    assert isinstance(caught.value, ObjectNotFoundError)


# -- listing parameters ----------------------------------------------------------------------


def test_meta_filters() -> None:
    params = [("prefix", "a"), ("meta.Owner", "ann"), ("meta.team", "x y")]
    assert meta_filters(params, max_entries=8, max_bytes=1024) == {"owner": "ann", "team": "x y"}
    with pytest.raises(InvalidMetadataError):
        meta_filters([("meta.a", "1"), ("meta.A", "2")], max_entries=8, max_bytes=1024)
    with pytest.raises(InvalidMetadataError):
        meta_filters([("meta.bad name", "1")], max_entries=8, max_bytes=1024)
    with pytest.raises(InvalidMetadataError):
        meta_filters([("meta.", "1")], max_entries=8, max_bytes=1024)


def test_validate_prefix() -> None:
    assert validate_prefix("photos/.") == "photos/."
    assert validate_prefix("caf\u00e9 ") == "caf\u00e9 "
    for bad in ("a\x00", "a\nb", "a\\b", "x" * 2000):
        with pytest.raises(InvalidNameError):
            validate_prefix(bad)
