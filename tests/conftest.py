"""Fixtures for the real services every integration test talks to.

On a laptop without one of them those tests skip; under CI (``CI=true``) a missing service
is a failure, never a skip. Every run uses its own database, queue names and S3 bucket, so
runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sangraha_core import Backends, Settings
from tests import _rgw
from tests._services import (
    AMQP_URL,
    CORPUS,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_URL,
    RUN_ID,
    blob_url,
    require_service,
    skip_or_fail,
)
from tests._topology import MotoServer

# Apps built in tests run open unless a test turns access control on; the access tests do,
# and check the default (``keys``) too.
os.environ.setdefault("SANGRAHA_AUTH", "off")


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    """Embedded backends under ``tmp_path`` (files, SQLite, the in-process queue)."""
    opened = Backends.from_settings(Settings(data_dir=tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = CORPUS / "json-test-suite"
    if not path.is_dir():
        pytest.fail(f"the JSON test suite is missing at {path}")
    return path


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/test"


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A database of its own for this test run, dropped at the end."""
    import psycopg

    name = f"sangraha_{RUN_ID}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def amqp_url() -> str:
    require_service("RabbitMQ", "127.0.0.1", 5672)
    return AMQP_URL


@pytest.fixture
def queue_prefix() -> str:
    """Exchange and queue names of their own for one test."""
    return f"t{RUN_ID}.{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", "127.0.0.1", 6379)
    return REDIS_URL


@pytest.fixture(scope="session")
def rgw_endpoint() -> Iterator[str]:
    """A single-node Ceph RADOS Gateway of this run's own (tests/_rgw.py): a real S3 server,
    with its own ideas of what to honour, unlike a mock."""
    if not _rgw.installed():
        skip_or_fail("Ceph's daemons (ceph-mon, ceph-osd, radosgw) are not installed")
    gateway = _rgw.CephRgw()
    gateway.start()
    try:
        yield gateway.url
    finally:
        gateway.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode, in a process of its own: for the few tests that need what only
    a mock gives (answers it can be told to fake, checksums it keeps), each saying why."""
    server = MotoServer()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(rgw_endpoint: str) -> str:
    """The S3 server every S3-touching test talks to: Ceph RGW."""
    return rgw_endpoint


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials RGW's test user and moto both accept, through the AWS variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", _rgw.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", _rgw.SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_url(s3_endpoint: str, s3_env: None) -> str:
    """A blob store URL naming a bucket of its own for one test."""
    return blob_url(s3_endpoint)
