"""One barrage of hostile input at each topology: every service stays up, keeps its pid,
and still serves the objects it held before, byte-identical.

Each case once took a service down, stalled it, answered 500 or lost a write; the unit
and service tests next to each fix pin the details, this proves them together on real
processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._topology import Topology, distributed, embedded
from tests.e2e import _content

pytestmark = pytest.mark.timeout(600)

#: Small enough that the PDF below runs out of it quickly.
_VALIDATOR_MEMORY = str(256 * 1024 * 1024)


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    tmp: Path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "embedded":
        topo = embedded(tmp, validator_memory=_VALIDATOR_MEMORY)
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        request.getfixturevalue("amqp_url")
        s3_endpoint = request.getfixturevalue("s3_endpoint")
        topo = distributed(tmp, admin, s3_endpoint, validator_memory=_VALIDATOR_MEMORY)
    try:
        yield topo
    finally:
        topo.stop()


def _put(topo: Topology, bucket: str, key: str, body: bytes, content_type: str) -> httpx.Response:
    return httpx.put(
        f"{topo.write_url}/v1/buckets/{bucket}/objects/{key}",
        content=body,
        headers={"Content-Type": content_type},
        timeout=60,
    )


def _settle(topo: Topology, bucket: str, key: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/metadata/{key}", timeout=30)
        assert response.status_code == 200, response.text
        record: dict[str, object] = response.json()
        if record["status"] != "pending":
            return record
        assert time.monotonic() < deadline, f"{key} still pending"
        time.sleep(0.2)


def _png_with_ten_rows_of_8192() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    rows = b"".join(b"\x00" + b"\x80" * 8192 for _ in range(10))
    ihdr = struct.pack(">IIBBBBB", 8192, 8192, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf_with_a_huge_xref(entries: int = 1_500_000) -> bytes:
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    xref = b"xref\n0 %d\n" % entries + b"0000000009 00000 n \n" * entries
    tail = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (entries, len(head))
    return head + xref + tail


def _raw(url: str, request: bytes, timeout: float) -> bytes:
    """Send ``request`` as it is; whatever comes back before the server closes or
    ``timeout`` passes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        # Refused mid-send, the answer may still be there to read.
        with contextlib.suppress(OSError):
            sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
        return answer


def _alive(topo: Topology) -> list[int]:
    for service in topo.services:
        assert service.proc is not None and service.proc.poll() is None, (
            f"{service.name} died: {service.log.read_text()[-3000:]}"
        )
    return [service.pid for service in topo.services]


def test_the_services_survive_a_barrage_and_keep_what_they_held(target: Topology) -> None:
    topo = target
    bucket = f"hostile-{uuid.uuid4().hex[:10]}"
    held = {
        "held/a.json": (b'{"kept": [1, 2, 3]}', "application/json"),
        "held/b.png": (_content.png(), "image/png"),
        "held/c.pdf": (_content.pdf(), "application/pdf"),
    }
    for key, (body, content_type) in held.items():
        assert _put(topo, bucket, key, body, content_type).status_code == 202
        assert _settle(topo, bucket, key)["status"] == "ready"
    pids = _alive(topo)

    # 1. A 4 KiB JSON document that crashed the yajl parser (and the process with it).
    crash = b"[" + b"1" * 4301 + b"~]"
    # 5. A PDF whose cross-reference table takes more memory than a validator has.
    # 8. A PNG whose complete, CRC-valid data holds 10 of its 8192 rows.
    contents = {
        "bad/crash.json": (crash, "application/json", "not valid JSON"),
        "bad/xref.pdf": (_pdf_with_a_huge_xref(), "application/pdf", "validator exceeded"),
        "bad/rows.png": (_png_with_ten_rows_of_8192(), "image/png", "truncated PNG"),
    }
    for key, (body, content_type, _) in contents.items():
        assert _put(topo, bucket, key, body, content_type).status_code == 202

    content = f"{topo.read_url}/v1/buckets/{bucket}/objects/held/a.json"
    # 2. A Range whose number Python cannot convert answered 500.
    huge_range = httpx.get(content, headers={"Range": "bytes=" + "9" * 4301 + "-"}, timeout=30)
    assert huge_range.status_code < 500, huge_range.text

    # 3. A 16 MiB header was read whole, for seconds, while other clients waited.
    started = time.monotonic()
    answer = _raw(
        topo.read_url,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (16 * 1024 * 1024) + b"\r\n\r\n",
        timeout=10,
    )
    assert time.monotonic() - started < 5
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]

    # 6. An Idempotency-Key reused with another body answered 200 with the first record.
    once = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
    url = f"{topo.write_url}/v1/buckets/{bucket}/objects/idem.json"
    assert httpx.put(url, content=b'{"v": 1}', headers=once, timeout=30).status_code == 202
    reused = httpx.put(url, content=b'{"v": 2}', headers=once, timeout=30)
    assert reused.status_code == 422, reused.text

    # 7. Invalid UTF-8 in a key was decoded to U+FFFD: three keys named one object.
    for raw_key in ("%FE%FF", "%FF%FE"):
        bad_key = httpx.put(
            f"{topo.write_url}/v1/buckets/{bucket}/objects/{raw_key}",
            content=b"{}",
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert bad_key.status_code == 400, bad_key.text

    # 9. Stored content was served without nosniff.
    served = httpx.get(content, timeout=30)
    assert served.headers.get("x-content-type-options") == "nosniff"

    for key, (_, _, reason) in contents.items():
        record = _settle(topo, bucket, key)
        assert record["status"] == "failed", record
        assert reason in str(record["error"]), record

    assert _alive(topo) == pids, "a service was restarted"
    for key, (body, _) in held.items():
        response = httpx.get(f"{topo.read_url}/v1/buckets/{bucket}/objects/{key}", timeout=30)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).digest() == hashlib.sha256(body).digest()
    assert httpx.get(f"{topo.read_url}/healthz", timeout=10).status_code == 200
