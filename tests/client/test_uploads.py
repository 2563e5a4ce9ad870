"""Chunked, resumable uploads: the flow generator, and both clients driving it."""

from __future__ import annotations

import hashlib
import json
import pathlib

import httpx
import pytest

from sangraha_client import (
    ChecksumMismatchError,
    Client,
    InvalidPartError,
    ServiceUnavailableError,
)
from sangraha_client._transfers import ChunkedUpload, advance, choose_part_size, sidecar_path
from tests.client.clients import Clients
from tests.client.fake_sangraha import FakeSangraha, problem

DATA = b'{"rows": [' + b",".join(b"%d" % i for i in range(40)) + b"]}"


def make_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "rows.json"
    path.write_bytes(DATA)
    return path


def part_puts(fake: FakeSangraha) -> list[int]:
    return sorted(
        int(r.url.path.rsplit("/", 1)[1])
        for r in fake.requests
        if r.method == "PUT" and "/parts/" in r.url.path
    )


def test_part_size_is_clamped_and_fits_max_parts() -> None:
    assert choose_part_size(100, 1, min_size=10, max_size=50, max_parts=100) == 10
    assert choose_part_size(100, 999, min_size=10, max_size=50, max_parts=100) == 50
    assert choose_part_size(10_000, 10, min_size=10, max_size=10_000, max_parts=100) == 100


def test_the_flow_against_a_fake_server_state(tmp_path: pathlib.Path) -> None:
    """Drive the generator by hand: no client send loop, only the fake's handler."""
    fake = FakeSangraha(min_part=16)
    path = make_file(tmp_path)
    client = Client(base_url="http://x.test")
    upload = ChunkedUpload(
        client, "docs", "rows.json", path, content_type="application/json", part_size=16
    )
    flow = upload.flow()
    step = advance(flow, None, None)
    batches = []
    while isinstance(step, list):
        batches.append([o.method + " " + o.url.split("x.test")[1] for o in step])
        responses = []
        for options in step:
            request = client._build_request(options)
            responses.append(fake.handle(request))
        step = advance(flow, responses, None)
    assert batches[0] == ["POST /v1/buckets/docs/uploads"]
    assert len(batches[1]) == -(-len(DATA) // 16)
    assert batches[2] == [f"POST /v1/uploads/{next(iter(fake.sessions))}/complete"]
    assert fake.objects[("docs", "rows.json")][0] == DATA
    # The whole file's digest, worked out while the parts went, is declared at complete.
    (complete,) = [r for r in fake.requests if r.url.path.endswith("/complete")]
    assert json.loads(complete.content) == {"digest": f"sha256:{hashlib.sha256(DATA).hexdigest()}"}
    assert not sidecar_path(path).exists()


def test_parts_that_arrive_altered_fail_the_complete(
    clients: Clients, tmp_path: pathlib.Path
) -> None:
    fake = FakeSangraha(min_part=16)
    path = make_file(tmp_path)

    def alter_part_2(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/parts/2"):
            (session,) = fake.sessions.values()
            session.parts[2] = b"x" * 16
            return httpx.Response(200, json={"number": 2, "size": 16, "etag": "e"})
        return None

    fake.intercept = alter_part_2
    client = clients(base_url="http://x.test", transport=fake.transport())
    with pytest.raises(ChecksumMismatchError):
        client.upload_file("docs", "rows.json", path, threshold=0, part_size=16)
    assert ("docs", "rows.json") not in fake.objects


def test_a_chunked_upload_resumes_after_an_interruption(
    clients: Clients, tmp_path: pathlib.Path
) -> None:
    fake = FakeSangraha(min_part=16)
    path = make_file(tmp_path)
    count = -(-len(DATA) // 16)

    def break_part_3(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/parts/3"):
            return problem(503, "unavailable")
        return None

    fake.intercept = break_part_3
    client = clients(base_url="http://x.test", transport=fake.transport(), max_retries=1)
    with pytest.raises(ServiceUnavailableError):
        client.upload_file("docs", "rows.json", path, threshold=0, part_size=16, concurrency=1)
    state = json.loads(sidecar_path(path).read_text())
    (session,) = fake.sessions.values()
    assert state["upload_id"] == session.id
    held = set(session.parts)
    assert 3 not in held

    fake.intercept = None
    fake.requests.clear()
    seen: list[tuple[int, int | None]] = []
    record = client.upload_file(
        "docs",
        "rows.json",
        path,
        threshold=0,
        part_size=999,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert record.size == len(DATA)
    assert fake.objects[("docs", "rows.json")][0] == DATA
    assert part_puts(fake) == sorted(set(range(1, count + 1)) - held)
    assert not any(r.url.path.endswith("/uploads") for r in fake.requests)
    assert seen[-1] == (len(DATA), len(DATA))
    assert not sidecar_path(path).exists()


def test_a_changed_file_starts_a_new_session(clients: Clients, tmp_path: pathlib.Path) -> None:
    fake = FakeSangraha(min_part=16)
    path = make_file(tmp_path)
    sidecar_path(path).write_text(
        json.dumps(
            {
                "upload_id": "old",
                "bucket": "docs",
                "key": "rows.json",
                "size": 1,
                "mtime_ns": 1,
                "part_size": 16,
            }
        )
    )
    client = clients(base_url="http://x.test", transport=fake.transport())
    client.upload_file("docs", "rows.json", path, threshold=0, part_size=16)
    assert fake.requests[0].method == "DELETE" and fake.requests[0].url.path == "/v1/uploads/old"
    assert fake.objects[("docs", "rows.json")][0] == DATA


def test_a_finished_session_is_not_sent_again(clients: Clients, tmp_path: pathlib.Path) -> None:
    fake = FakeSangraha(min_part=16)
    path = make_file(tmp_path)
    client = clients(base_url="http://x.test", transport=fake.transport())
    first = client.upload_file("docs", "rows.json", path, threshold=0, part_size=16)
    (session,) = fake.sessions.values()
    stat = path.stat()
    sidecar_path(path).write_text(
        json.dumps(
            {
                "upload_id": session.id,
                "bucket": "docs",
                "key": "rows.json",
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "part_size": 16,
            }
        )
    )
    fake.requests.clear()
    again = client.upload_file("docs", "rows.json", path, threshold=0, part_size=16)
    assert again.id == first.id
    assert [r.method for r in fake.requests] == ["GET", "GET"]


def test_small_files_go_up_in_one_request(clients: Clients, tmp_path: pathlib.Path) -> None:
    fake = FakeSangraha()
    path = make_file(tmp_path)
    clients(base_url="http://x.test", transport=fake.transport()).upload_file("docs", "k", path)
    assert [r.method for r in fake.requests] == ["PUT"]
    assert fake.bodies[0] == DATA


def test_a_chunked_upload_with_parallel_parts(clients: Clients, tmp_path: pathlib.Path) -> None:
    fake = FakeSangraha(min_part=8)
    path = make_file(tmp_path)
    client = clients(base_url="http://x.test", transport=fake.transport())
    seen: list[tuple[int, int | None]] = []
    record = client.upload_file(
        "docs",
        "rows.json",
        path,
        threshold=0,
        part_size=8,
        concurrency=3,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert record.size == len(DATA)
    assert fake.objects[("docs", "rows.json")][0] == DATA
    assert part_puts(fake) == list(range(1, -(-len(DATA) // 8) + 1))
    assert seen[-1] == (len(DATA), len(DATA))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_failed_part_among_parallel_ones_raises_its_own_error(
    clients: Clients, tmp_path: pathlib.Path
) -> None:
    fake = FakeSangraha(min_part=8)
    path = make_file(tmp_path)

    def refuse_part_2(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/parts/2"):
            return problem(400, "invalid-part")
        return None

    fake.intercept = refuse_part_2
    client = clients(base_url="http://x.test", transport=fake.transport())
    # One error, as the thread pool raises it; never the task group's ExceptionGroup.
    with pytest.raises(InvalidPartError):
        client.upload_file("docs", "rows.json", path, threshold=0, part_size=8, concurrency=3)
    assert ("docs", "rows.json") not in fake.objects
    assert not any(r.url.path.endswith("/complete") for r in fake.requests)
    assert sidecar_path(path).exists()
