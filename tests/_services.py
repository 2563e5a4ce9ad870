"""Where the real services are, and small helpers for tests that talk to them."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = [
    "AMQP_URL",
    "CORPUS",
    "PG_HOST",
    "PG_PORT",
    "PG_USER",
    "REDIS_URL",
    "RUN_ID",
    "blob_url",
    "free_port",
    "require_service",
    "skip_or_fail",
    "wait_for_port",
]

PG_HOST = os.environ.get("SANGRAHA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SANGRAHA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SANGRAHA_TEST_PG_USER", "postgres")
AMQP_URL = os.environ.get("SANGRAHA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
REDIS_URL = os.environ.get("SANGRAHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

RUN_ID = uuid.uuid4().hex[:10]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def skip_or_fail(message: str) -> NoReturn:
    """Skip the test on a laptop; fail it under CI, where every service must be there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " (under CI every service must be up)")
    pytest.skip(message)


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) when a service the test needs is not listening."""
    if not _reachable(host, port):
        skip_or_fail(f"{name} is not reachable at {host}:{port}")


def blob_url(endpoint: str) -> str:
    """A blob store URL naming a bucket of its own on the S3 server at ``endpoint``."""
    return f"s3://sangraha-{RUN_ID}-{uuid.uuid4().hex[:8]}?endpoint={endpoint}&region=us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _reachable(host, port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
