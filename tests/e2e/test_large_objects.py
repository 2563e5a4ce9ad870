"""Large objects against both topologies: an interrupted parallel upload and download that
resume, and every service's memory staying flat while an object many times its bound moves,
in one PUT and in parts sent in parallel.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks._measure import MIB, Sampler
from benchmarks.large_objects import resume_scenario, service_pids, wait_ready, write_pdf
from sangraha_client import Client
from tests._topology import Topology

pytestmark = pytest.mark.timeout(300)

#: How much any service may grow over its resident size before the transfer.
RSS_BOUND = 150 * MIB
#: The most any service may hold at its peak, whatever it moves.
PEAK_BOUND = 150 * MIB
#: Parts several times the S3 store's in-memory spool, 4 in flight at once.
PART_SIZE = 32 * MIB
#: Several times the bound, so that holding the object (or a good part of it) shows.
LARGE = 450 * MIB


def test_an_interrupted_parallel_upload_and_download_resume(
    topology: Topology, tmp_path: Path
) -> None:
    path = write_pdf(tmp_path / "scan.pdf", 40 * MIB)
    outcome = resume_scenario(topology, path, part_size=5 * MIB)
    assert outcome["held_at_kill_mib"] > 0
    assert 0 < outcome["downloaded_at_kill_mib"] < 40


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(MIB):
            yield chunk


def test_memory_stays_flat_while_a_large_object_moves(topology: Topology, tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "large.pdf", LARGE)
    expected = hashlib.sha256()
    for chunk in _file_chunks(path):
        expected.update(chunk)
    bucket, key = f"large-{uuid.uuid4().hex[:8]}", "scan.pdf"
    with Sampler(service_pids(topology)) as sampler:
        response = httpx.put(
            f"{topology.write_url}/v1/buckets/{bucket}/objects/{key}",
            content=_file_chunks(path),
            headers={"Content-Type": "application/pdf"},
            timeout=300,
        )
        assert response.status_code == 202, response.text
        record = wait_ready(topology, bucket, key, timeout=240)
        assert record["status"] == "ready", record
        got = hashlib.sha256()
        with httpx.stream(
            "GET",
            f"{topology.read_url}/v1/buckets/{bucket}/objects/{key}",
            headers={"Range": f"bytes={MIB}-"},
            timeout=300,
        ) as ranged:
            assert ranged.status_code == 206
            for chunk in ranged.iter_bytes(MIB):
                got.update(chunk)
    with path.open("rb") as file:
        file.seek(MIB)
        tail = hashlib.sha256()
        while chunk := file.read(MIB):
            tail.update(chunk)
        with Client(base_url=topology.read_url, write_url=topology.write_url, timeout=300) as sdk:
            parts = sdk.upload_file(
                bucket, "parts.pdf", path, threshold=0, part_size=PART_SIZE, concurrency=4
            )
        assert wait_ready(topology, bucket, "parts.pdf", timeout=240)["status"] == "ready"
    assert got.hexdigest() == tail.hexdigest()
    assert record["digest"] == str(parts.digest) == f"sha256:{expected.hexdigest()}"
    for name, usage in sampler.usage.items():
        grown = usage.peak_rss - usage.start_rss
        assert grown < RSS_BOUND, f"{name} grew {grown / MIB:.0f} MiB moving {LARGE / MIB:.0f} MiB"
        assert usage.peak_rss < PEAK_BOUND, f"{name} peaked at {usage.peak_rss / MIB:.0f} MiB"
