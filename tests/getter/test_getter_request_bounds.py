"""Numbers, dates and names taken from a read request: a bad one is a 4xx problem or is
ignored as RFC 9110 asks, never a 500; and how stored bytes are served to a browser."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest

from sangraha_core import CONTENT_SECURITY_POLICY, http_date
from tests.getter._seed import BUCKET, Seed

pytestmark = pytest.mark.anyio

#: One digit more than Python's int() takes from a string.
HUGE = "9" * 4301
BODY = b'{"a": "<script>alert(1)</script>"}'
SIZE = len(BODY)


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert str(problem["type"]).endswith("/" + slug), problem
    return problem


@pytest.fixture
def urls(seed: Seed) -> list[str]:
    """The content of one object, by key and by id."""
    record = seed.ready("doc.json", BODY)
    return [f"/v1/buckets/{BUCKET}/objects/doc.json", f"/v1/objects/{record.id}/content"]


async def test_a_range_past_any_size_is_416_by_key_and_by_id(
    client: httpx.AsyncClient, urls: list[str]
) -> None:
    for url in urls:
        for first in (HUGE, "1" + "0" * 30, "0" * 5000 + str(SIZE)):
            response = await client.get(url, headers={"Range": f"bytes={first}-"})
            problem = _problem(response, 416, "invalid-range")
            assert response.headers["content-range"] == f"bytes */{SIZE}"
            assert "past the end" in str(problem["detail"])
            both = await client.get(url, headers={"Range": f"bytes={first}-{HUGE}"})
            assert both.status_code == 416


async def test_a_long_last_position_or_suffix_is_clamped(
    client: httpx.AsyncClient, urls: list[str]
) -> None:
    for url in urls:
        to_end = await client.get(url, headers={"Range": f"bytes=2-{HUGE}"})
        assert to_end.status_code == 206
        assert to_end.headers["content-range"] == f"bytes 2-{SIZE - 1}/{SIZE}"
        assert to_end.content == BODY[2:]
        suffix = await client.get(url, headers={"Range": f"bytes=-{HUGE}"})
        assert suffix.status_code == 206
        assert suffix.content == BODY
        padded = await client.get(url, headers={"Range": "bytes=" + "0" * 5000 + "1-0002"})
        assert padded.status_code == 206
        assert padded.content == BODY[1:3]


async def test_an_invalid_range_or_if_range_date_is_ignored(
    client: httpx.AsyncClient, urls: list[str]
) -> None:
    for url in urls:
        for header in {"Range": f"bytes={HUGE}"}, {"Range": f"bytes=5-2,{HUGE}-"}:
            response = await client.get(url, headers=header)
            assert response.status_code == 200
            assert response.content == BODY
        for date in (
            f"Mon, 01 Jan {HUGE} 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 -2359",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Mon, 01 Jan 2020 00:00:00 +" + "9" * 40,
        ):
            response = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": date})
            assert response.status_code == 200, date
            assert response.content == BODY


async def test_if_modified_since(client: httpx.AsyncClient, seed: Seed, urls: list[str]) -> None:
    record = seed.backends.metadata.get_newest(BUCKET, "doc.json")
    for url in urls:
        same = await client.get(url, headers={"If-Modified-Since": http_date(record.updated_at)})
        assert same.status_code == 304
        assert same.content == b""
        earlier = http_date(record.updated_at - timedelta(seconds=2))
        changed = await client.get(url, headers={"If-Modified-Since": earlier})
        assert changed.status_code == 200
        # If-None-Match decides whenever it is sent.
        both = await client.get(
            url,
            headers={"If-None-Match": '"other"', "If-Modified-Since": http_date(record.updated_at)},
        )
        assert both.status_code == 200
        for date in (f"Mon, 01 Jan {HUGE} 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 -2359", "x"):
            ignored = await client.get(url, headers={"If-Modified-Since": date})
            assert ignored.status_code == 200, date


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("created_after=9999-12-31T23:59:59-23:59", "created_after"),
        ("created_before=0001-01-01T00:00:00%2B23:59", "created_before"),
        (f"created_after={HUGE}", "created_after"),
        (f"limit={HUGE}", "limit"),
        ("limit=1e3", "limit"),
        ("cursor=" + base64.urlsafe_b64encode(b"[" * 3000).decode(), "cursor"),
        ("cursor=" + base64.urlsafe_b64encode(b"[" + HUGE.encode() + b"]").decode(), "cursor"),
    ],
)
async def test_listing_numbers_and_cursors_out_of_bounds_are_400(
    client: httpx.AsyncClient, seed: Seed, query: str, needle: str
) -> None:
    seed.ready("doc.json", BODY)
    response = await client.get(f"/v1/buckets/{BUCKET}/objects?{query}")
    problem = _problem(response, 400, "invalid-request")
    assert needle in str(problem["detail"])


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/buckets/{BUCKET}/objects/%FE%FF",
        f"/v1/buckets/{BUCKET}/objects/dir/%FF%FE.json",
        f"/v1/buckets/{BUCKET}/objects/%ED%A0%80",  # an encoded surrogate
        f"/v1/buckets/{BUCKET}/objects/%C3",  # a sequence cut short
        f"/v1/buckets/{BUCKET}/metadata/%FE%FF",
        "/v1/buckets/b%FFcket/objects/k",
    ],
)
async def test_a_path_that_is_not_utf8_is_400(client: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "HEAD"):
        response = await client.request(method, path)
        assert response.status_code == 400
        assert response.headers["x-content-type-options"] == "nosniff"
    problem = _problem(await client.get(path), 400, "invalid-name")
    assert "not UTF-8" in str(problem["detail"])


async def test_keys_differing_only_in_undecodable_bytes_are_not_one_object(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    # U+FFFD sent as such is a character like any other; decoding never makes one.
    seed.ready("\ufffd\ufffd", BODY)
    sent = await client.get(f"/v1/buckets/{BUCKET}/objects/%EF%BF%BD%EF%BF%BD")
    assert sent.status_code == 200
    assert sent.content == BODY
    for path in ("%FE%FF", "%FF%FE"):
        assert (await client.get(f"/v1/buckets/{BUCKET}/objects/{path}")).status_code == 400


@pytest.mark.parametrize("query", ["prefix=%FF", "prefix=a%E2%82", "meta.team=%FE", "cursor=%FF"])
async def test_a_query_that_is_not_utf8_is_400(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/v1/buckets/{BUCKET}/objects?{query}")
    problem = _problem(response, 400, "invalid-request")
    assert "query string is not UTF-8" in str(problem["detail"])


async def test_every_answer_is_nosniff(client: httpx.AsyncClient, urls: list[str]) -> None:
    paths = [
        *urls,
        f"/v1/buckets/{BUCKET}/metadata/doc.json",
        f"/v1/buckets/{BUCKET}/objects",
        f"/v1/buckets/{BUCKET}/objects/missing.json",
        "/console",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/no/such/route",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], path


async def test_stored_content_is_sandboxed_and_the_console_is_not(
    client: httpx.AsyncClient, seed: Seed, urls: list[str]
) -> None:
    for url in urls:
        for response in (
            await client.get(url),
            await client.head(url),
            await client.get(url, headers={"Range": "bytes=0-3"}),
        ):
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["content-type"] == "application/json"
            assert response.headers["content-disposition"].startswith("inline;")
    pdf = seed.ready("report.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    for url in (f"/v1/buckets/{BUCKET}/objects/report.pdf", f"/v1/objects/{pdf.id}/content"):
        response = await client.get(url)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["content-disposition"].startswith("attachment;")
    console = await client.get("/console")
    assert console.status_code == 200
    assert "sandbox" not in console.headers["content-security-policy"]
