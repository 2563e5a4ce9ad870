"""``sangraha-receiver`` as a real process on a real socket: startup, an upload, a client
that hangs up mid-body."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sangraha_core import ListQuery, Settings, open_metadata_store
from tests._services import free_port, wait_for_port
from tests.receiver._support import JSON_BODY


@dataclass
class Running:
    url: str
    port: int
    data_dir: Path


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Running]:
    port = free_port()
    env = {**os.environ, "SANGRAHA_DATA_DIR": str(tmp_path)}
    for name in ("SANGRAHA_BLOB_URL", "SANGRAHA_METADATA_URL", "SANGRAHA_QUEUE_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sangraha_receiver", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=30)
        except TimeoutError:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the receiver did not start: {err.decode(errors='replace')}")
        yield Running(f"http://127.0.0.1:{port}", port, tmp_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _staged_files(data_dir: Path) -> list[Path]:
    blobs = data_dir / "blobs"
    return [p for p in blobs.rglob("*") if p.is_file()]


def test_process_accepts_an_upload(receiver: Running) -> None:
    with httpx.Client(base_url=receiver.url, timeout=10) as client:
        assert client.get("/readyz").status_code == 200
        response = client.put(
            "/v1/buckets/bucket-ok/objects/a.json",
            content=JSON_BODY,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/objects/{response.json()['id']}"
    assert response.headers["x-request-id"]


def test_hang_up_mid_body_leaves_nothing(receiver: Running) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /v1/buckets/bucket-ok/objects/gone.json HTTP/1.1\r\n"
            b"Host: receiver\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b" " * 300_000
        )
        deadline = time.monotonic() + 10
        while not _staged_files(receiver.data_dir) and time.monotonic() < deadline:
            time.sleep(0.02)
        # The partial body is being written (to a temporary file) when the client goes.
        assert _staged_files(receiver.data_dir)
    # Then the receiver notices, drops the partial write and records nothing.
    deadline = time.monotonic() + 10
    while _staged_files(receiver.data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _staged_files(receiver.data_dir) == []

    metadata = open_metadata_store(Settings(data_dir=receiver.data_dir).metadata_url)
    try:
        assert metadata.list_objects(ListQuery(bucket="bucket-ok")).items == []
    finally:
        metadata.close()
