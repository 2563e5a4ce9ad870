"""Real Sangraha deployments as processes, for end-to-end tests and benchmarks.

- ``embedded``: ``sangraha serve`` (files + SQLite + in-process queue) on one port, and
  its S3 API on another.
- ``distributed``: ``sangraha-receiver``, ``sangraha-getter``, ``sangraha-gateway`` and
  ``sangraha-worker`` as separate processes over S3 (the tests' Ceph RGW), PostgreSQL and
  RabbitMQ. The broker is
  reached through a TCP proxy that can be cut, to simulate an outage without stopping the
  shared broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests._proxy import TcpProxy
from tests._services import AMQP_URL, RUN_ID, free_port, wait_for_port

__all__ = ["MotoServer", "Service", "Topology", "create_database", "distributed", "embedded"]

BIN = Path(sys.executable).parent
#: Credentials both the tests' RGW user (tests/_rgw.py) and moto accept.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log)
        if self.health_url:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.health_url or "", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not healthy: {self.log.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """``kill -9``: no chance to finish anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@dataclass
class Topology:
    name: str
    write_url: str
    read_url: str
    worker: Service
    """The process whose death loses in-flight processing (embedded: the server itself)."""
    count_blobs: Callable[[], int]
    services: list[Service] = field(default_factory=list)
    broker: TcpProxy | None = None
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    s3_url: str = ""
    """The S3 gateway: the embedded server's S3 port, or the distributed gateway process."""

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if self.broker:
            self.broker.stop()
        for cleanup in reversed(self.cleanups):
            cleanup()


class MotoServer:
    """moto in server mode: a real S3 HTTP endpoint on 127.0.0.1, in a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, **AWS_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def create_database(admin_url: str, prefix: str = "sangraha") -> tuple[str, Callable[[], None]]:
    """A PostgreSQL database of its own, and the function that drops it."""
    import psycopg

    name = f"{prefix}_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop


def _settings_env(settings: dict[str, str]) -> dict[str, str]:
    """``SANGRAHA_<NAME>`` variables; access control off unless the caller turns it on."""
    return {
        f"SANGRAHA_{name.upper()}": value for name, value in {"auth": "off", **settings}.items()
    }


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGRAHA_")}
    env.update(values)
    return env


def embedded(tmp: Path, **settings: str) -> Topology:
    """``sangraha serve`` on a free port, its data under ``tmp``; ``settings`` become
    ``SANGRAHA_<NAME>`` variables."""
    port, s3_port = free_port(), free_port()
    data = tmp / "data"
    env = _env(**_settings_env({"pending_timeout": "3", **settings}))
    server = Service(
        "sangraha serve",
        [
            *(str(BIN / "sangraha"), "serve", "--port", str(port), "--data-dir", str(data)),
            *("--s3-port", str(s3_port)),
        ],
        env,
        tmp / "serve.log",
        f"http://127.0.0.1:{s3_port}/_sangraha/healthz",
    )
    server.start()
    url = f"http://127.0.0.1:{port}"

    def count_blobs() -> int:
        root = data / "blobs" / "blobs" / "sha256"
        return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0

    return Topology(
        "embedded", url, url, server, count_blobs, [server], s3_url=f"http://127.0.0.1:{s3_port}"
    )


def distributed(
    tmp: Path,
    postgres_admin_url: str,
    s3_endpoint: str,
    *,
    concurrency: int = 2,
    **settings: str,
) -> Topology:
    """Receiver, getter and worker processes over S3 (``s3_endpoint``), a new PostgreSQL
    database and RabbitMQ behind a cuttable proxy."""
    import boto3

    db_url, drop_db = create_database(postgres_admin_url, "sangraha_e2e")
    bucket = f"e2e-{RUN_ID}-{uuid.uuid4().hex[:6]}"
    broker = TcpProxy("127.0.0.1", int(AMQP_URL.rsplit(":", 1)[1].split("/")[0]))
    broker.start()
    env = _env(
        SANGRAHA_BLOB_URL=f"s3://{bucket}?endpoint={s3_endpoint}&region=us-east-1",
        SANGRAHA_METADATA_URL=db_url,
        SANGRAHA_QUEUE_URL=f"amqp://guest:guest@127.0.0.1:{broker.port}/%2F",
        SANGRAHA_QUEUE_PREFIX=f"e2e{RUN_ID}{uuid.uuid4().hex[:6]}.",
        **AWS_ENV,
        **_settings_env({"pending_timeout": "3", **settings}),
    )
    wport, rport, gport = free_port(), free_port(), free_port()
    receiver = Service(
        "receiver",
        [str(BIN / "sangraha-receiver"), "--port", str(wport)],
        env,
        tmp / "receiver.log",
        f"http://127.0.0.1:{wport}/healthz",
    )
    getter = Service(
        "getter",
        [str(BIN / "sangraha-getter"), "--port", str(rport)],
        env,
        tmp / "getter.log",
        f"http://127.0.0.1:{rport}/healthz",
    )
    gateway = Service(
        "gateway",
        [str(BIN / "sangraha-gateway"), "--port", str(gport)],
        env,
        tmp / "gateway.log",
        f"http://127.0.0.1:{gport}/_sangraha/healthz",
    )
    worker = Service(
        "worker",
        [str(BIN / "sangraha-worker"), "--concurrency", str(concurrency)],
        env,
        tmp / "worker.log",
    )
    # The receiver creates the bucket, queues and schema; the others find them ready.
    receiver.start()
    getter.start()
    gateway.start()
    worker.start()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def count_blobs() -> int:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="blobs/")
        return sum(len(page.get("Contents", [])) for page in pages)

    return Topology(
        "distributed",
        f"http://127.0.0.1:{wport}",
        f"http://127.0.0.1:{rport}",
        worker,
        count_blobs,
        [receiver, getter, gateway, worker],
        broker,
        [drop_db],
        s3_url=f"http://127.0.0.1:{gport}",
    )
