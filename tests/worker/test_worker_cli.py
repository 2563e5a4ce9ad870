"""The package surface and the ``sangraha-worker`` command, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sangraha_worker
from sangraha_core import Backends, FailureKind, ObjectStatus, Settings
from tests._proxy import TcpProxy
from tests._services import PG_PORT
from tests._topology import create_database
from tests.worker._staging import JSON_BODY, png, stage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_exports_match_all() -> None:
    public = {name for name in vars(sangraha_worker) if not name.startswith("_")}
    modules = {"cli", "collector", "metrics", "reconciler", "replay", "worker"}
    assert public - modules == set(sangraha_worker.__all__)
    for name in sangraha_worker.__all__:
        assert getattr(sangraha_worker, name) is not None


def test_help_lists_the_flags() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sangraha_worker", "--help"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    for flag in ("--concurrency", "--burst", "--metrics-port", "replay"):
        assert flag in out


def test_replay_reopens_retriable_failures_and_says_what_it_did(tmp_path: Path) -> None:
    backends = Backends.from_settings(Settings(data_dir=tmp_path))
    try:
        retriable = stage(backends, JSON_BODY, publish=False)
        final = stage(backends, JSON_BODY, publish=False)
        backends.metadata.mark_failed(retriable.id, "gave up", kind=FailureKind.RETRIABLE)
        backends.metadata.mark_failed(final.id, "not JSON")
        done = subprocess.run(
            [sys.executable, "-m", "sangraha_worker", "replay"],
            capture_output=True,
            env={**os.environ, "SANGRAHA_DATA_DIR": str(tmp_path)},
            timeout=60,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        # The embedded queue lives in another process: the record, pending again, is what
        # that process's reconciler (or its next start) picks up.
        assert json.loads(done.stdout) == {"dead_letters": 0, "requeued": 1, "dropped": 0}
        assert backends.metadata.get_object(retriable.id).status is ObjectStatus.PENDING
        assert backends.metadata.get_object(final.id).status is ObjectStatus.FAILED
    finally:
        backends.close()


def test_bad_settings_exit_with_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "SANGRAHA_WORKER_CONCURRENCY": "zero"}
    done = subprocess.run(
        [sys.executable, "-m", "sangraha_worker", "--burst"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"SANGRAHA_" in done.stderr


@pytest.mark.postgres
def test_a_worker_started_during_an_outage_waits_for_the_backend(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    # A database of its own: the worker publishes every pending record it finds.
    direct, drop = create_database(postgres_admin_url, "sangraha_cli")
    database = TcpProxy("127.0.0.1", PG_PORT)  # not started yet: the database is down
    url = direct.replace(f":{PG_PORT}/", f":{database.port}/")
    backends = Backends.from_settings(Settings(data_dir=tmp_path, metadata_url=direct))
    log = tmp_path / "worker.log"
    env = {**os.environ, "SANGRAHA_DATA_DIR": str(tmp_path), "SANGRAHA_METADATA_URL": url}
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sangraha_worker", "--burst", "--recover-on-start"],
                env=env,
                stdout=out,
                stderr=out,
            )
        try:
            deadline = time.monotonic() + 60
            while "a backend is unreachable" not in log.read_text(errors="replace"):
                assert proc.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
            record = stage(backends, JSON_BODY, publish=False)
            database.start()
            assert proc.wait(60) == 0, log.read_text(errors="replace")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert backends.metadata.get_object(record.id).status is ObjectStatus.READY
    finally:
        database.stop()
        backends.close()
        drop()


def test_process_recovers_serves_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    backends = Backends.from_settings(settings)
    # Pending records whose messages died with an earlier process's in-memory queue.
    records = [
        stage(backends, JSON_BODY, publish=False),
        stage(backends, png(), "image/png", publish=False),
    ]
    port = free_port()
    log = tmp_path / "worker.log"
    env = {**os.environ, "SANGRAHA_DATA_DIR": str(tmp_path)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sangraha_worker",
                "--recover-on-start",
                "--metrics-port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while any(
            backends.metadata.get_object(r.id).status is ObjectStatus.PENDING for r in records
        ):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("not processed; log:\n" + log.read_text(errors="replace"))
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert 'sangraha_worker_jobs_total{outcome="done"} 2.0' in text
        assert "sangraha_worker_republished_total 2.0" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    try:
        assert code == 0, log.read_text(errors="replace")
        assert all(backends.metadata.get_object(r.id).status is ObjectStatus.READY for r in records)
        assert '"level": "info"' in log.read_text()
    finally:
        backends.close()
