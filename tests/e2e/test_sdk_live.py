"""The SDK against the real services, both topologies, sync and async.

In the distributed topology reads go to the getter and writes to the receiver, so every
test here also proves the client's read/write URL split.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from sangraha_client import (
    AsyncClient,
    ChecksumMismatchError,
    Client,
    ConflictError,
    InvalidMetadataError,
    NotFoundError,
    ObjectKind,
    ObjectStatus,
    PendingError,
    ProcessingFailedError,
    UnsupportedMediaTypeError,
    UploadNotFoundError,
)
from sangraha_core import MIN_PART_SIZE, UploadStatus, encode_header_value
from tests._topology import Topology
from tests.e2e import _content

pytestmark = pytest.mark.timeout(600)

PART = MIN_PART_SIZE
#: Non-ASCII and spaces: neither fits a header value as it is.
TITLE = "Grüße 文件"


def _bucket() -> str:
    return f"sdk-{uuid.uuid4().hex[:12]}"


def _big_json(path: Path, size: int) -> bytes:
    """A valid JSON document of exactly ``size`` bytes, unique to this call."""
    head, tail = b'{"pad": "', b'"}'
    filler = os.urandom((size - len(head) - len(tail)) // 2 + 1).hex().encode()
    data = head + filler[: size - len(head) - len(tail)] + tail
    path.write_bytes(data)
    return data


@pytest.fixture
def client(topology: Topology) -> Iterator[Client]:
    with Client(base_url=topology.read_url, write_url=topology.write_url) as c:
        yield c


def _counting_client(topology: Topology, seen: list[httpx.Request]) -> tuple[Client, httpx.Client]:
    http = httpx.Client(event_hooks={"request": [seen.append]}, timeout=60)
    return Client(base_url=topology.read_url, write_url=topology.write_url, http_client=http), http


def test_put_each_source_with_metadata_and_read_back(client: Client, tmp_path: Path) -> None:
    bucket = _bucket()
    doc = b'{"from": "bytes"}'
    path = tmp_path / "pic.png"
    path.write_bytes(_content.png())
    pdf = _content.pdf()

    from_bytes = client.put_object(bucket, "src/bytes.json", doc, metadata={"src": "b"}, wait=30)
    from_path = client.put_object(bucket, "src/pic.png", path, metadata={"src": "p"}, wait=30)
    from_file = client.put_object(
        bucket, "src/file.pdf", io.BytesIO(pdf), content_type="application/pdf", wait=30
    )
    from_iter = client.put_object(
        bucket, "src/iter.json", iter([b'{"from": ', b'"chunks"}']), metadata={"src": "i"}
    )
    from_iter = client.wait_until_ready(bucket, "src/iter.json", version=from_iter.id)

    assert from_bytes.status is ObjectStatus.READY and from_bytes.metadata == {"src": "b"}
    assert from_path.kind is ObjectKind.IMAGE and from_path.extracted["width"] == 32
    assert from_file.kind is ObjectKind.PDF and from_file.extracted["pages"] == 2
    assert from_iter.metadata == {"src": "i"}

    assert client.get_object(bucket, "src/bytes.json") == doc
    assert client.get_object(bucket, "src/iter.json") == b'{"from": "chunks"}'
    with client.stream_object(bucket, "src/file.pdf", chunk_size=100) as stream:
        assert stream.content_type == "application/pdf" and stream.size == len(pdf)
        assert stream.digest == from_file.digest
        assert b"".join(stream) == pdf
    head = client.head_object(bucket, "src/pic.png")
    assert head.digest == from_path.digest and head.size == path.stat().st_size
    assert head.metadata == {"src": "p"}
    assert client.get_record(bucket, "src/pic.png").id == from_path.id
    assert client.get_record_by_id(from_file.id).key == "src/file.pdf"
    assert client.get_blob(str(from_file.digest)) == pdf

    client.delete_object(bucket, "src/bytes.json")
    with pytest.raises(NotFoundError) as caught:
        client.get_object(bucket, "src/bytes.json")
    assert caught.value.status_code == 404


def test_list_walks_pages_and_filters(client: Client) -> None:
    bucket = _bucket()
    for n in range(5):
        client.put_object(
            bucket, f"list/{n}.json", f'{{"n": {n}}}'.encode(), metadata={"parity": str(n % 2)}
        )
    client.put_object(bucket, "list/pic.png", _content.png(), metadata={"parity": "0"})
    client.put_object(bucket, "other/x.json", b"[]")
    for key in ("list/pic.png", "other/x.json", *(f"list/{n}.json" for n in range(5))):
        client.wait_until_ready(bucket, key)

    first = client.list_objects(bucket, prefix="list/", limit=2)
    assert len(first.items) == 2 and first.has_next_page()
    assert sorted(r.key for r in first) == sorted(
        ["list/pic.png", *(f"list/{n}.json" for n in range(5))]
    )
    assert [r.key for r in client.list_objects(bucket, kind="image", limit=1)] == ["list/pic.png"]
    even = client.list_objects(bucket, prefix="list/", metadata={"parity": "0"}, limit=1)
    assert sorted(r.key for r in even) == [
        "list/0.json",
        "list/2.json",
        "list/4.json",
        "list/pic.png",
    ]
    ready = client.list_objects(bucket, status="ready", kind="json", limit=3)
    assert len(list(ready)) == 6


def test_problem_answers_become_typed_errors(client: Client, topology: Topology) -> None:
    bucket = _bucket()
    with pytest.raises(NotFoundError):
        client.get_record(bucket, "missing.json")
    with pytest.raises(UnsupportedMediaTypeError) as unsupported:
        client.put_object(bucket, "a.txt", b"hello", content_type="text/plain")
    assert unsupported.value.status_code == 415

    # An iterable body carries no digest of its own, so the wrong one declared here stands.
    with (
        Client(
            base_url=topology.read_url,
            write_url=topology.write_url,
            default_headers={"X-Sangraha-SHA256": "0" * 64},
        ) as lying,
        pytest.raises(ChecksumMismatchError) as mismatch,
    ):
        lying.put_object(bucket, "c.json", iter([b"[1]"]), content_type="application/json")
    assert mismatch.value.status_code == 400 and mismatch.value.slug == "checksum-mismatch"

    bad = client.put_object(bucket, "bad.json", b'{"open": ', content_type="application/json")
    with pytest.raises(ProcessingFailedError) as failed:
        client.wait_until_ready(bucket, "bad.json", version=bad.id, timeout=60)
    assert failed.value.record.status is ObjectStatus.FAILED and failed.value.record.error


def test_pending_key_is_a_conflict_until_processed(client: Client, topology: Topology) -> None:
    if topology.name != "distributed":
        pytest.skip("only a worker of its own can be paused without pausing the reads")
    bucket = _bucket()
    topology.worker.pause()
    try:
        record = client.put_object(bucket, "slow.json", b'{"slow": true}')
        assert record.status is ObjectStatus.PENDING
        with pytest.raises(PendingError) as pending:
            client.with_options(max_retries=0).get_object(bucket, "slow.json")
        assert isinstance(pending.value, ConflictError) and pending.value.status_code == 409
        assert pending.value.response.headers.get("retry-after")
    finally:
        topology.worker.resume()
    assert client.wait_until_ready(bucket, "slow.json").status is ObjectStatus.READY
    assert client.get_object(bucket, "slow.json") == b'{"slow": true}'


def test_non_ascii_metadata_round_trips(client: Client, topology: Topology) -> None:
    bucket = _bucket()
    meta = {"title": TITLE, "plain": "ascii text", "edge": " padded "}
    record = client.put_object(bucket, "i18n.json", b'{"i": 18}', metadata=meta, wait=30)
    assert record.metadata == meta
    assert client.get_record(bucket, "i18n.json").metadata == meta
    for method in ("GET", "HEAD"):
        answer = httpx.request(method, f"{topology.read_url}/v1/buckets/{bucket}/objects/i18n.json")
        assert answer.headers["x-sangraha-meta-title"] == encode_header_value(TITLE)
        assert answer.headers["x-sangraha-meta-plain"] == "ascii text"
    assert client.head_object(bucket, "i18n.json").metadata == meta
    assert [r.key for r in client.list_objects(bucket, metadata={"title": TITLE})] == ["i18n.json"]

    malformed = httpx.put(
        f"{topology.write_url}/v1/buckets/{bucket}/objects/bad-meta.json",
        content=b"[]",
        headers={"Content-Type": "application/json", "X-Sangraha-Meta-title": "UTF-8''%zz"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["type"].endswith("/invalid-metadata")
    with pytest.raises(NotFoundError):
        client.get_record(bucket, "bad-meta.json")
    # The SDK's typed error for the same answer.
    with (
        Client(
            base_url=topology.read_url,
            write_url=topology.write_url,
            default_headers={"X-Sangraha-Meta-title": "UTF-8''%E6%96"},
        ) as raw,
        pytest.raises(InvalidMetadataError),
    ):
        raw.put_object(bucket, "bad-utf8.json", b"[]")


def test_upload_session_by_hand(client: Client) -> None:
    bucket = _bucket()
    data = b'{"parts": "one"}'
    session = client.create_upload(
        bucket,
        "session.json",
        content_type="application/json",
        size=len(data),
        digest="sha256:" + hashlib.sha256(data).hexdigest(),
        metadata={"how": "session"},
    )
    assert session.status is UploadStatus.OPEN and session.min_part_size == PART
    part = client.upload_part(session.id, 1, data)
    assert part.number == 1 and part.size == len(data)
    assert [p.number for p in client.get_upload(session.id).parts] == [1]
    record = client.complete_upload(session.id)
    ready = client.wait_until_ready(bucket, "session.json", version=record.id)
    assert ready.metadata == {"how": "session"}
    assert client.get_object(bucket, "session.json") == data

    doomed = client.create_upload(bucket, "doomed.json", content_type="application/json")
    client.upload_part(doomed.id, 1, b"[]")
    client.abort_upload(doomed.id)
    try:
        after = client.get_upload(doomed.id)
    except UploadNotFoundError:
        pass
    else:
        assert after.status is UploadStatus.ABORTED
    with pytest.raises(NotFoundError):
        client.get_record(bucket, "doomed.json")


def test_upload_file_in_parallel_parts_and_download(client: Client, tmp_path: Path) -> None:
    bucket = _bucket()
    src = tmp_path / "big.json"
    data = _big_json(src, 2 * PART + 123_457)
    seen: list[tuple[int, int | None]] = []
    record = client.upload_file(
        bucket,
        "big/file.json",
        src,
        threshold=PART,
        part_size=PART,
        concurrency=4,
        progress=lambda done, total: seen.append((done, total)),
        wait=120,
    )
    assert record.status is ObjectStatus.READY and record.size == len(data)
    assert record.digest.hex == hashlib.sha256(data).hexdigest()
    assert seen[-1] == (len(data), len(data))
    assert not (tmp_path / "big.json.sangraha-upload").exists()
    out = client.download_file(bucket, "big/file.json", tmp_path / "copy.json")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == record.digest.hex


_STOP_AFTER_ONE_PART = """
import sys, time
from pathlib import Path
from sangraha_client import Client

read_url, write_url, bucket, key, src, marker = sys.argv[1:]

def progress(done, total):
    if done > 0:
        Path(marker).write_text(str(done))
        time.sleep(3600)  # hold the upload here until the test kills this process

with Client(base_url=read_url, write_url=write_url) as client:
    client.upload_file(bucket, key, src, threshold=1, part_size={part}, concurrency=1,
                       progress=progress)
"""


def test_killed_upload_resumes_from_the_sidecar(topology: Topology, tmp_path: Path) -> None:
    bucket = _bucket()
    src = tmp_path / "resume.json"
    data = _big_json(src, 2 * PART + 4321)
    marker = tmp_path / "acknowledged"
    log = tmp_path / "upload.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _STOP_AFTER_ONE_PART.format(part=PART),
                topology.read_url,
                topology.write_url,
                bucket,
                "resumed.json",
                str(src),
                str(marker),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no part was acknowledged in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    sidecar = json.loads((tmp_path / "resume.json.sangraha-upload").read_text())
    seen: list[httpx.Request] = []
    client, http = _counting_client(topology, seen)
    with http, client:
        before = client.get_upload(sidecar["upload_id"])
        assert [p.number for p in before.parts] == [1]
        seen.clear()
        record = client.upload_file(
            bucket, "resumed.json", src, threshold=1, part_size=PART, concurrency=4
        )
        sent = sorted(r.url.path.rsplit("/", 1)[-1] for r in seen if "/parts/" in r.url.path)
        assert sent == ["2", "3"]
        assert record.size == len(data)
        assert client.get_upload(sidecar["upload_id"]).status is UploadStatus.COMPLETED
        client.wait_until_ready(bucket, "resumed.json", version=record.id)
        out = client.download_file(bucket, "resumed.json", tmp_path / "back.json")
    assert out.read_bytes() == data
    assert not (tmp_path / "resume.json.sangraha-upload").exists()


def test_download_resumes_from_a_partial_file(topology: Topology, tmp_path: Path) -> None:
    bucket = _bucket()
    pdf = _content.pdf(pages=30)
    dest = tmp_path / "report.pdf"
    seen: list[httpx.Request] = []
    client, http = _counting_client(topology, seen)
    with http, client:
        client.put_object(bucket, "report.pdf", pdf, wait=30)
        (tmp_path / "report.pdf.part").write_bytes(pdf[:1000])
        seen.clear()
        assert client.download_file(bucket, "report.pdf", dest) == dest
    assert dest.read_bytes() == pdf
    assert [r.headers.get("range") for r in seen] == ["bytes=1000-"]
    assert not (tmp_path / "report.pdf.part").exists()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _async_round_trip(topology: Topology, tmp_path: Path) -> None:
    bucket = _bucket()
    async with AsyncClient(base_url=topology.read_url, write_url=topology.write_url) as client:
        record = await client.put_object(
            bucket, "a/one.json", b'{"one": 1}', metadata={"title": TITLE}, wait=30
        )
        streamed = await client.put_object(
            bucket, "a/two.json", _chunks(b"[1, ", b"2]"), content_type="application/json"
        )
        await client.wait_until_ready(bucket, "a/two.json", version=streamed.id)
        assert await client.get_object(bucket, "a/one.json") == b'{"one": 1}'
        async with client.stream_object(bucket, "a/two.json", chunk_size=2) as stream:
            assert b"".join([chunk async for chunk in stream]) == b"[1, 2]"
        head = await client.head_object(bucket, "a/one.json")
        assert head.digest == record.digest and head.metadata == {"title": TITLE}
        assert (await client.get_record_by_id(record.id)).key == "a/one.json"
        assert await client.get_blob(str(record.digest)) == b'{"one": 1}'
        page = await client.list_objects(bucket, prefix="a/", limit=1)
        assert page.has_next_page()
        assert sorted([r.key async for r in page]) == ["a/one.json", "a/two.json"]

        src = tmp_path / "async-big.json"
        data = _big_json(src, 2 * PART + 99)
        big = await client.upload_file(
            bucket, "a/big.json", src, threshold=PART, part_size=PART, concurrency=4, wait=120
        )
        assert big.size == len(data) and big.status is ObjectStatus.READY
        out = await client.download_file(bucket, "a/big.json", tmp_path / "async-back.json")
        assert hashlib.sha256(out.read_bytes()).hexdigest() == big.digest.hex

        with pytest.raises(UnsupportedMediaTypeError):
            await client.put_object(bucket, "x.txt", b"x", content_type="text/plain")
        await client.delete_object(bucket, "a/one.json")
        with pytest.raises(NotFoundError):
            await client.get_object(bucket, "a/one.json")
        bad = await client.put_object(bucket, "bad.json", b"{", content_type="application/json")
        with pytest.raises(ProcessingFailedError):
            await client.wait_until_ready(bucket, "bad.json", version=bad.id)


def test_async_client_round_trip(topology: Topology, tmp_path: Path) -> None:
    asyncio.run(_async_round_trip(topology, tmp_path))
