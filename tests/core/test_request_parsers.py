"""Properties of every parser that reads a number, date or name from a request: whatever
the input, the answer is a value, ``None`` (ignore it) or a Sangraha error; never anything
a service would turn into a 500."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sangraha_core import (
    InvalidRangeError,
    InvalidRequestError,
    http_date,
    if_modified_since_matches,
    if_range_matches,
    parse_http_date,
    parse_range,
    validate_time_bound,
)
from sangraha_core.metadata._rows import decode_cursor, encode_cursor
from sangraha_core.web._hardening import undecodable

HUGE = "9" * 4301
SIZES = st.integers(min_value=0, max_value=2**63 - 1)
# Positions of any length, with or without leading zeros, including Python's int() limit.
DIGITS = st.one_of(
    st.text(string.digits, min_size=1, max_size=30),
    st.integers(min_value=4290, max_value=4400).map(lambda n: "1" * n),
    st.integers(min_value=0, max_value=6000).map(lambda n: "0" * n + "7"),
)
RANGE_TEXT = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda a, b: f"bytes={a}-{b}",
        st.one_of(st.just(""), DIGITS),
        st.one_of(st.just(""), DIGITS),
    ),
)


@settings(max_examples=300, deadline=None)
@given(header=RANGE_TEXT, size=SIZES)
@example(header=f"bytes={HUGE}-", size=10)
@example(header=f"bytes=0-{HUGE}", size=10)
@example(header=f"bytes=-{HUGE}", size=10)
def test_parse_range_answers_a_slice_nothing_or_416(header: str, size: int) -> None:
    try:
        found = parse_range(header, size)
    except InvalidRangeError as error:
        assert error.size == size
        return
    if found is not None:
        start, end = found
        assert 0 <= start < end <= size


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (f"bytes={HUGE}-", 10, InvalidRangeError),
        (f"bytes={HUGE}-{HUGE}", 10, InvalidRangeError),
        (f"bytes=3-{HUGE}", 10, (3, 10)),
        (f"bytes=-{HUGE}", 10, (0, 10)),
        ("bytes=" + "0" * 5000 + "3-" + "0" * 5000 + "4", 10, (3, 5)),
        (f"bytes={HUGE}", 10, None),
        (f"bytes=5-2,{HUGE}-", 10, None),
        (f"bytes=-{HUGE}", 0, None),
        ("bytes=9223372036854775807-", 2**63 - 1, InvalidRangeError),
        ("bytes=9223372036854775806-", 2**63 - 1, (2**63 - 2, 2**63 - 1)),
    ],
)
def test_parse_range_cases(header: str, size: int, expected: object) -> None:
    if expected is InvalidRangeError:
        with pytest.raises(InvalidRangeError, match="past the end"):
            parse_range(header, size)
    else:
        assert parse_range(header, size) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(max_size=80), st.builds(lambda d: f"Mon, 01 Jan {d} 00:00:00 GMT", DIGITS))
)
@example(f"Mon, 01 Jan {HUGE} 00:00:00 GMT")
@example("Fri, 31 Dec 9999 23:59:59 -2359")
@example("Mon, 01 Jan 0001 00:00:00 +2359")
@example("Mon, 01 Jan 2020 00:00:00 +" + "9" * 40)
def test_http_dates_parse_to_utc_or_none(value: str) -> None:
    found = parse_http_date(value)
    assert found is None or found.utcoffset() == timedelta(0)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    # Whatever the date, the conditions answer yes or no.
    assert isinstance(if_range_matches(value, '"x"', moment), bool)
    assert isinstance(if_modified_since_matches(value, moment), bool)


@given(st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.just(UTC)))
def test_http_date_round_trips_to_the_second(moment: datetime) -> None:
    assert parse_http_date(http_date(moment)) == moment.replace(microsecond=0)
    assert if_modified_since_matches(http_date(moment), moment)
    assert not if_modified_since_matches(http_date(moment - timedelta(seconds=1)), moment)


@given(
    st.datetimes(
        timezones=st.builds(
            timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
        )
    )
)
@example(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))))
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))))
def test_time_bounds_are_utc_or_400(moment: datetime) -> None:
    try:
        bound = validate_time_bound("created_after", moment)
    except InvalidRequestError as error:
        assert "created_after" in str(error)
        return
    assert bound == moment
    assert bound is not None and bound.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.text(string.ascii_letters + "-_", max_size=6000)))
@example("W1tb" * 2000)
def test_any_cursor_decodes_or_is_400(cursor: str) -> None:
    try:
        key, object_id = decode_cursor(cursor)
    except InvalidRequestError:
        return
    assert isinstance(key, str) and isinstance(object_id, str)


@given(
    # Any text a key may be: at most 1,024 bytes of UTF-8, no surrogates or controls.
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=1024).filter(
        lambda key: len(key.encode("utf-8")) <= 1024
    ),
    st.text("0123456789abcdef", min_size=32, max_size=32),
)
@example('"' * 1024, "0" * 32)
@example("\U0001f600" * 256, "f" * 32)
def test_cursors_made_by_a_page_decode(key: str, object_id: str) -> None:
    assert decode_cursor(encode_cursor(key, object_id)) == (key, object_id)


@given(st.binary(max_size=64))
def test_a_path_is_refused_exactly_when_its_bytes_are_not_utf8(raw: bytes) -> None:
    encoded = quote_from_bytes(raw, safe="/").encode("ascii")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert undecodable(encoded) is not None
    else:
        assert undecodable(encoded) is None


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (b"/v1/buckets/b/objects/%FE%FF", False),
        (b"/v1/buckets/b/objects/%FF%FE", False),
        (b"/v1/buckets/b/objects/%EF%BF%BD%EF%BF%BD", True),
        (b"/v1/buckets/b/objects/%ED%A0%80", False),
        (b"/v1/buckets/b/objects/%C3/%A9", False),
        (b"/v1/buckets/b/objects/%C3%A9", True),
        (b"/v1/buckets/b/objects/100%", True),
        (b"/v1/buckets/b/objects/%zz", True),
        (b"prefix=a%E2%82&kind=json", False),
        (b"prefix=%E2%82%AC&kind=json", True),
        (b"a=%C3&b=%A9", False),
    ],
)
def test_undecodable_cases(raw: bytes, ok: bool) -> None:
    assert (undecodable(raw) is None) is ok
