"""Fixtures for the real services every integration test talks to.

On a laptop without one of them those tests skip; under CI (``CI=true``) a missing service
is a failure, never a skip. Every run uses its own database, queue names and S3 bucket, so
runs never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import (
    AMQP_URL,
    CORPUS,
    PG_HOST,
    PG_PORT,
    PG_USER,
    REDIS_URL,
    RUN_ID,
    require_service,
)
from tests._topology import MotoServer


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
def s3_endpoint() -> Iterator[str]:
    """moto in server mode: a real S3 HTTP endpoint on 127.0.0.1, in a process of its own."""
    server = MotoServer()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, through the standard AWS variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_url(s3_endpoint: str, s3_env: None) -> str:
    """A blob store URL naming a bucket of its own for one test."""
    return f"s3://sangraha-{RUN_ID}-{uuid.uuid4().hex[:8]}?endpoint={s3_endpoint}&region=us-east-1"
