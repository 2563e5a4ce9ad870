"""Upload, process and read back, black-box over HTTP, against both topologies."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests._topology import Topology
from tests.e2e import _content

pytestmark = pytest.mark.timeout(600)


def _bucket() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def _put(
    topo: Topology,
    bucket: str,
    key: str,
    body: bytes,
    content_type: str,
    *,
    wait: float | None = 30,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    params = {"wait": str(wait)} if wait is not None else {}
    return httpx.put(
        f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}",
        content=body,
        params=params,
        headers={"Content-Type": content_type, **(headers or {})},
        timeout=60,
    )


def _record(topo: Topology, bucket: str, key: str) -> dict[str, object]:
    response = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/metadata/{key}", timeout=30)
    assert response.status_code == 200, response.text
    record: dict[str, object] = response.json()
    return record


def _settle(topo: Topology, bucket: str, key: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        record = _record(topo, bucket, key)
        if record["status"] != "pending" or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("key", "content_type", "make", "extracted"),
    [
        (
            "docs/a.json",
            "application/json",
            lambda: b'{"a": [1, 2, {"b": null}]}',
            {"json_type": "object"},
        ),
        ("img/pic.png", "image/png", _content.png, {"format": "PNG", "width": 32, "height": 24}),
        ("img/pic.jpg", "image/jpeg", _content.jpeg, {"format": "JPEG", "width": 40}),
        (
            "pdf/report.pdf",
            "application/pdf",
            _content.pdf,
            {"pages": 2, "title": "Quarterly report", "author": "Ann"},
        ),
    ],
)
def test_each_kind_round_trips_byte_identical(
    topology: Topology, key: str, content_type: str, make: object, extracted: dict[str, object]
) -> None:
    bucket = _bucket()
    body: bytes = make()  # type: ignore[operator]
    response = _put(topology, bucket, key, body, content_type)
    assert response.status_code in (200, 202), response.text
    record = response.json()
    assert record["bucket"] == bucket and record["key"] == key
    assert record["digest"] == "sha256:" + hashlib.sha256(body).hexdigest()
    assert response.headers["location"].endswith(record["id"])
    record = _settle(topology, bucket, key)
    assert record["status"] == "ready", record
    for name, value in extracted.items():
        assert record["extracted"][name] == value, record["extracted"]  # type: ignore[index]

    got = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/{key}", timeout=30)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"].startswith(content_type)
    assert got.headers["etag"] == f'"{record["digest"]}"'
    by_id = httpx.get(f"{topology.read_url}/v1/objects/{record['id']}/content", timeout=30)
    assert by_id.content == body
    by_digest = httpx.get(f"{topology.read_url}/v1/blobs/{record['digest']}", timeout=30)
    assert by_digest.content == body


def test_same_bytes_under_two_keys_store_one_blob(topology: Topology) -> None:
    bucket = _bucket()
    body = f'{{"unique": "{uuid.uuid4()}"}}'.encode()
    before = topology.count_blobs()
    first = _put(topology, bucket, "one.json", body, "application/json").json()
    second = _put(topology, bucket, "two.json", body, "application/json").json()
    a, b = _settle(topology, bucket, "one.json"), _settle(topology, bucket, "two.json")
    assert a["status"] == b["status"] == "ready"
    assert first["id"] != second["id"] and a["digest"] == b["digest"]
    assert topology.count_blobs() == before + 1
    # Deleting one key leaves the other readable.
    gone = httpx.delete(f"{topology.write_url}/v1/buckets/{bucket}/objects/one.json", timeout=30)
    assert gone.status_code == 204
    still = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/two.json", timeout=30)
    assert still.status_code == 200 and still.content == body
    missing = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/one.json", timeout=30)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_json_test_suite_through_the_api(topology: Topology, corpus_dir: Path) -> None:
    bucket = _bucket()
    files = sorted(p for p in corpus_dir.iterdir() if p.name[:2] in ("y_", "n_"))
    for path in files:
        response = _put(
            topology, bucket, path.name, path.read_bytes(), "application/json", wait=None
        )
        assert response.status_code == 202, (path.name, response.text)
    wrong = []
    for path in files:
        record = _settle(topology, bucket, path.name)
        expected = "ready" if path.name.startswith("y_") else "failed"
        if record["status"] != expected:
            wrong.append((path.name, record["status"], record.get("error")))
        if expected == "failed":
            assert record["error"], path.name
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("image/png", _content.png_with_bad_crc()),
        ("image/png", _content.truncated(_content.png(400, 300))),
        ("image/png", _content.jpeg()),
        ("application/pdf", b"%PDF-1.7\nthis is not really a pdf\n%%EOF"),
        ("application/pdf", _content.truncated(_content.pdf(5))),
        ("application/json", b'{"a": NaN}'),
    ],
)
def test_corrupt_content_ends_failed_with_a_reason(
    topology: Topology, content_type: str, body: bytes
) -> None:
    bucket = _bucket()
    _put(topology, bucket, "bad", body, content_type, wait=None)
    record = _settle(topology, bucket, "bad")
    assert record["status"] == "failed"
    assert isinstance(record["error"], str) and record["error"]
    content = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/objects/bad", timeout=30)
    assert content.status_code in (404, 409)


def test_checksum_mismatch_is_400_and_stores_nothing(topology: Topology) -> None:
    bucket = _bucket()
    body = b'{"x": 1}'
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    response = _put(
        topology,
        bucket,
        "c.json",
        body,
        "application/json",
        headers={"Content-Digest": f"sha-256=:{wrong}:"},
    )
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("/checksum-mismatch") and problem["status"] == 400
    meta = httpx.get(f"{topology.read_url}/v1/buckets/{bucket}/metadata/c.json", timeout=30)
    assert meta.status_code == 404
    right = base64.b64encode(hashlib.sha256(body).digest()).decode()
    ok = _put(
        topology,
        bucket,
        "c.json",
        body,
        "application/json",
        headers={"Content-Digest": f"sha-256=:{right}:"},
    )
    assert ok.status_code in (200, 202)


def test_ranges_and_conditional_reads(topology: Topology) -> None:
    bucket = _bucket()
    body = ("[" + ",".join(str(i) for i in range(5000)) + "]").encode()
    _put(topology, bucket, "r.json", body, "application/json")
    url = f"{topology.read_url}/v1/buckets/{bucket}/objects/r.json"
    part = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert part.status_code == 206 and part.content == body[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(body)}"
    tail = httpx.get(url, headers={"Range": "bytes=-7"}, timeout=30)
    assert tail.status_code == 206 and tail.content == body[-7:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(body)}-"}, timeout=30)
    assert beyond.status_code == 416
    etag = httpx.head(url, timeout=30).headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304
    assert httpx.get(url, headers={"If-None-Match": '"sha256:00"'}, timeout=30).status_code == 200


def test_listing_by_prefix_kind_and_metadata(topology: Topology) -> None:
    bucket = _bucket()
    _put(
        topology,
        bucket,
        "a/1.json",
        b"1",
        "application/json",
        headers={"X-Sangraha-Meta-Team": "red"},
    )
    _put(
        topology,
        bucket,
        "a/2.png",
        _content.png(),
        "image/png",
        headers={"X-Sangraha-Meta-Team": "blue"},
    )
    _put(
        topology,
        bucket,
        "b/3.json",
        b"3",
        "application/json",
        headers={"X-Sangraha-Meta-Team": "red"},
    )
    url = f"{topology.read_url}/v1/buckets/{bucket}/objects"

    def keys(**params: str) -> list[str]:
        page = httpx.get(url, params=params, timeout=30).json()
        return [item["key"] for item in page["items"]]

    assert keys() == ["a/1.json", "a/2.png", "b/3.json"]
    assert keys(prefix="a/") == ["a/1.json", "a/2.png"]
    assert keys(kind="image") == ["a/2.png"]
    assert keys(**{"meta.team": "red"}) == ["a/1.json", "b/3.json"]
    first = httpx.get(url, params={"limit": "2"}, timeout=30).json()
    rest = httpx.get(url, params={"limit": "2", "cursor": first["next_cursor"]}, timeout=30)
    assert [i["key"] for i in rest.json()["items"]] == ["b/3.json"]


@pytest.mark.parametrize(
    "key",
    ["..%2Fetc%2Fpasswd", "a/%2E%2E/b", "nul%00byte", "%0Anewline"],
)
def test_hostile_keys_are_refused_with_a_problem(topology: Topology, key: str) -> None:
    response = httpx.put(
        f"{topology.write_url}/v1/buckets/good-bucket/objects/{key}",
        content=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == response.status_code


def test_unsupported_content_type_is_415(topology: Topology) -> None:
    response = _put(topology, _bucket(), "x.txt", b"hello", "text/plain")
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
