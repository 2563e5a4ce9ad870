"""Content reads through the real app and real embedded backends."""

from __future__ import annotations

import base64
import os
from urllib.parse import quote, unquote

import httpx
import pytest

from sangraha_core import Backends, Digest, ObjectRecord
from tests.getter._seed import BUCKET, Seed

pytestmark = pytest.mark.anyio

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
JSON = b'{"name": "Sangraha", "tags": ["a", "b"], "n": 1.5}'
#: Several store chunks long, and every byte value, so nothing is lost at chunk edges.
BINARY = bytes(range(256)) * 9_000 + os.urandom(12_345)


def _url(key: str, bucket: str = BUCKET) -> str:
    return f"/v1/buckets/{bucket}/objects/{quote(key)}"


@pytest.mark.parametrize(
    ("key", "data", "content_type"),
    [
        ("docs/config.json", JSON, "application/json"),
        ("img/dot.png", PNG, "image/png"),
        ("img/noise.jpg", BINARY, "image/jpeg"),
        ("papers/one.pdf", PDF, "application/pdf"),
        ("empty.json", b"", "application/json"),
    ],
)
async def test_get_is_byte_identical(
    client: httpx.AsyncClient, seed: Seed, key: str, data: bytes, content_type: str
) -> None:
    record = seed.ready(key, data, content_type)
    response = await client.get(_url(key))
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == content_type
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["etag"] == f'"{record.digest}"'
    assert response.headers["x-sangraha-id"] == record.id


async def test_head_gives_the_headers_of_get(client: httpx.AsyncClient, seed: Seed) -> None:
    seed.ready("img/noise.jpg", BINARY, "image/jpeg", metadata={"owner": "ann", "city": "Zürich"})
    got = await client.get(_url("img/noise.jpg"))
    head = await client.head(_url("img/noise.jpg"))
    assert head.status_code == 200
    assert head.content == b""
    for name in (
        "etag",
        "content-type",
        "content-length",
        "content-disposition",
        "last-modified",
        "accept-ranges",
        "cache-control",
        "x-sangraha-id",
        "x-sangraha-meta-owner",
        "x-sangraha-meta-city",
    ):
        assert head.headers[name] == got.headers[name], name
    assert head.headers["content-length"] == str(len(BINARY))
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["cache-control"] == "no-cache"
    assert head.headers["x-sangraha-meta-owner"] == "ann"
    assert head.headers["x-sangraha-meta-city"] == "UTF-8''Z%C3%BCrich"
    assert head.headers["content-disposition"] == (
        "inline; filename=\"noise.jpg\"; filename*=UTF-8''noise.jpg"
    )
    assert head.headers["last-modified"].endswith(" GMT")


async def test_hostile_file_names_cannot_break_headers(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    key = 'in/evil"; filename="x.exe;\u00e9\u65e5.json'
    seed.ready(key, JSON)
    response = await client.get(_url(key))
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('inline; filename="evil_; filename=_x.exe;__.json"; ')
    encoded = disposition.partition("; filename*=UTF-8''")[2]
    assert unquote(encoded) == 'evil"; filename="x.exe;\u00e9\u65e5.json'


# -- conditional requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{etag}", "W/{etag}", '"nope", {etag}', 'W/"nope", W/{etag}', "*"],
)
async def test_if_none_match_gives_304(
    client: httpx.AsyncClient, seed: Seed, template: str
) -> None:
    record = seed.ready("a.json", JSON)
    etag = f'"{record.digest}"'
    for method in ("GET", "HEAD"):
        response = await client.request(
            method, _url("a.json"), headers={"If-None-Match": template.format(etag=etag)}
        )
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "content-length" not in response.headers or response.headers["content-length"] == "0"


async def test_if_none_match_other_etag_gives_content(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    seed.ready("a.json", JSON)
    response = await client.get(_url("a.json"), headers={"If-None-Match": '"sha256:00", W/"x"'})
    assert response.status_code == 200
    assert response.content == JSON


# -- ranges --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=10-99", 10, 100),
        ("bytes=1000000-", 1_000_000, len(BINARY)),
        ("bytes=-5000", len(BINARY) - 5000, len(BINARY)),
        ("bytes=100-999999999", 100, len(BINARY)),
        (f"bytes=0-{len(BINARY) - 1}", 0, len(BINARY)),
    ],
)
async def test_range_gives_206(
    client: httpx.AsyncClient, seed: Seed, header: str, start: int, end: int
) -> None:
    seed.ready("noise.jpg", BINARY, "image/jpeg")
    response = await client.get(_url("noise.jpg"), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == BINARY[start:end]
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(BINARY)}"
    assert response.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=3000000-", f"bytes={len(BINARY)}-", "bytes=-0"])
async def test_unsatisfiable_range_gives_416(
    client: httpx.AsyncClient, seed: Seed, header: str
) -> None:
    seed.ready("noise.jpg", BINARY, "image/jpeg")
    response = await client.get(_url("noise.jpg"), headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-range"] == f"bytes */{len(BINARY)}"
    assert response.json()["status"] == 416


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=9-2", "lines=1-2", "bytes=x-"])
async def test_multi_or_malformed_range_gives_everything(
    client: httpx.AsyncClient, seed: Seed, header: str
) -> None:
    seed.ready("a.json", JSON)
    response = await client.get(_url("a.json"), headers={"Range": header})
    assert response.status_code == 200
    assert response.content == JSON
    assert "content-range" not in response.headers


async def test_if_range(client: httpx.AsyncClient, seed: Seed) -> None:
    record = seed.ready("a.json", JSON)
    etag = f'"{record.digest}"'
    stale = await client.get(_url("a.json"), headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert (stale.status_code, stale.content) == (200, JSON)
    fresh = await client.get(_url("a.json"), headers={"Range": "bytes=0-1", "If-Range": etag})
    assert (fresh.status_code, fresh.content) == (206, JSON[:2])


async def test_range_on_empty_object(client: httpx.AsyncClient, seed: Seed) -> None:
    seed.ready("empty.json", b"")
    suffix = await client.get(_url("empty.json"), headers={"Range": "bytes=-10"})
    assert (suffix.status_code, suffix.content) == (200, b"")
    start = await client.get(_url("empty.json"), headers={"Range": "bytes=0-"})
    assert start.status_code == 416
    assert start.headers["content-range"] == "bytes */0"


# -- versions and states -------------------------------------------------------------------


async def test_latest_ready_version_and_version_reads(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    first = seed.ready("v.json", b'{"v": 1}')
    second = seed.ready("v.json", b'{"v": 2}')
    pending = seed.pending("v.json", b'{"v": 3}')
    latest = await client.get(_url("v.json"))
    assert latest.content == b'{"v": 2}'
    assert latest.headers["x-sangraha-id"] == second.id
    old = await client.get(_url("v.json"), params={"version": first.id})
    assert old.status_code == 200
    assert old.content == b'{"v": 1}'
    assert old.headers["cache-control"] == "public, max-age=31536000, immutable"
    waiting = await client.get(_url("v.json"), params={"version": pending.id})
    assert waiting.status_code == 409
    assert waiting.headers["retry-after"]
    assert waiting.json()["type"].endswith("/pending")


async def test_version_of_another_key_is_not_found(client: httpx.AsyncClient, seed: Seed) -> None:
    other = seed.ready("secret.json", b'{"s": 1}')
    seed.ready("v.json", b"{}")
    for version in (other.id, "0" * 32, "not-an-id", "../../etc"):
        response = await client.get(_url("v.json"), params={"version": version})
        assert response.status_code == 404, version
        assert response.headers["content-type"] == "application/problem+json"


async def test_failed_version_is_409_with_the_reason(client: httpx.AsyncClient, seed: Seed) -> None:
    failed = seed.failed("bad.json", "not JSON: line 1 column 1")
    response = await client.get(_url("bad.json"), params={"version": failed.id})
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("/failed")
    assert problem["reason"] == "not JSON: line 1 column 1"
    assert "retry-after" not in response.headers
    by_id = await client.get(f"/v1/objects/{failed.id}/content")
    assert by_id.status_code == 409
    # A key whose only version failed answers why, as that version by id does.
    for method in ("GET", "HEAD"):
        latest = await client.request(method, _url("bad.json"))
        assert latest.status_code == 409, method
        assert "retry-after" not in latest.headers
    problem = (await client.get(_url("bad.json"))).json()
    assert problem["type"].endswith("/failed")
    assert problem["reason"] == "not JSON: line 1 column 1"


async def test_latest_read_skips_a_newer_failed_version(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    seed.ready("doc.json", b'{"v": 1}')
    seed.failed("doc.json", "not JSON: premature end")
    response = await client.get(_url("doc.json"))
    assert response.status_code == 200
    assert response.content == b'{"v": 1}'


async def test_key_whose_newest_failed_after_older_failures_names_the_newest(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    seed.failed("twice.json", "first reason")
    seed.failed("twice.json", "second reason")
    response = await client.get(_url("twice.json"))
    assert response.status_code == 409
    assert response.json()["reason"] == "second reason"


async def test_pending_only_key_is_409_with_retry_after(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    seed.pending("slow.json")
    for method in ("GET", "HEAD"):
        response = await client.request(method, _url("slow.json"))
        assert response.status_code == 409
        assert int(response.headers["retry-after"]) > 0
    problem = (await client.get(_url("slow.json"))).json()
    assert problem["type"].endswith("/pending")
    assert problem["status"] == 409


async def test_unknown_is_404_problem(client: httpx.AsyncClient, seed: Seed) -> None:
    seed.ready("known.json")
    urls = (
        _url("unknown.json"),
        _url("known.json", bucket="other"),
        "/v1/objects/" + "a" * 32 + "/content",
    )
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/not-found")


@pytest.mark.parametrize(
    "url",
    [
        "/v1/buckets/UPPER/objects/a.json",
        "/v1/buckets/ab/objects/a.json",
        "/v1/buckets/a..b/objects/a.json",
        "/v1/buckets/photos/objects/a%00b",
        "/v1/buckets/photos/objects/a/%2E%2E/b",
        "/v1/buckets/photos/objects/a//b",
        "/v1/buckets/photos/objects/a%5Cb",
        "/v1/buckets/photos/objects/a%0D%0AX-Evil:%201",
        "/v1/buckets/photos/objects/" + "k" * 1100,
        "/v1/buckets/photos/metadata/a%00b",
        "/v1/buckets/photos/metadata/a/%2E%2E",
    ],
)
async def test_hostile_names_are_400(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/invalid-name")


# -- by id and by digest -------------------------------------------------------------------


async def test_content_by_id(client: httpx.AsyncClient, seed: Seed) -> None:
    first = seed.ready("v.json", b'{"v": 1}')
    seed.ready("v.json", b'{"v": 2}')
    response = await client.get(f"/v1/objects/{first.id}/content")
    assert response.status_code == 200
    assert response.content == b'{"v": 1}'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    head = await client.head(f"/v1/objects/{first.id}/content")
    assert head.headers["content-length"] == "8"
    pending = seed.pending("p.json")
    assert (await client.get(f"/v1/objects/{pending.id}/content")).status_code == 409


async def test_content_by_digest(client: httpx.AsyncClient, seed: Seed, backends: Backends) -> None:
    record: ObjectRecord = seed.ready("img/noise.jpg", BINARY, "image/jpeg")
    url = f"/v1/blobs/sha256:{record.digest.hex}"
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == BINARY
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["etag"] == f'"{record.digest}"'
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-disposition" not in response.headers
    ranged = await client.get(url, headers={"Range": "bytes=-3"})
    assert (ranged.status_code, ranged.content) == (206, BINARY[-3:])
    cached = await client.get(url, headers={"If-None-Match": f'"{record.digest}"'})
    assert cached.status_code == 304
    head = await client.head(url)
    assert head.headers["content-length"] == str(len(BINARY))

    # Bytes in the store that no record references are nobody's content.
    stray = b"staged but never finalised"
    from sangraha_core import blob_key

    backends.blobs.put(blob_key(Digest.of(stray)), stray)
    for digest in (Digest.of(stray), Digest.of(b"never stored")):
        missing = await client.get(f"/v1/blobs/sha256:{digest.hex}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
    bad = await client.get("/v1/blobs/sha256:xyz")
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    deleted = backends.metadata.delete_objects(record.bucket, record.key)
    assert deleted == 1
    assert (await client.get(url)).status_code == 404
