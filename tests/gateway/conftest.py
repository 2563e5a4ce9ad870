"""The gateway tests' deployments: the main app (receiver, getter and its worker) and the
S3 gateway over the same backends, each under uvicorn on a port of its own in a background
thread, as ``sangraha serve`` runs them. One open deployment serves the whole session
(tests keep apart by using buckets of their own); one with access control on serves the
access tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sangraha_gateway
import sangraha_server
from sangraha_core import Backends, Settings
from sangraha_core.access import MasterKey
from tests.gateway._support import Deployment, Server


def _deploy(data_dir: Path, **settings: Any) -> Iterator[tuple[Backends, Server, Server]]:
    data_dir.mkdir(parents=True, exist_ok=True)
    backends = Backends.from_settings(Settings(data_dir=data_dir, **settings))
    main = Server(sangraha_server.create_app(backends=backends))
    gateway = Server(sangraha_gateway.create_app(backends=backends))
    main.start()
    try:
        gateway.start()
        try:
            yield backends, main, gateway
        finally:
            gateway.stop()
    finally:
        main.stop()
        backends.close()


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The open deployment (access control off)."""
    for backends, main, gateway in _deploy(tmp_path_factory.mktemp("gateway"), auth="off"):
        made = Deployment(backends, gateway.url, main.url)
        try:
            yield made
        finally:
            made.http.close()


@pytest.fixture(scope="session")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A deployment with access control on; make keys with :meth:`Deployment.key`."""
    master, text = MasterKey.generate()
    for backends, main, gateway in _deploy(
        tmp_path_factory.mktemp("gateway-keys"),
        auth="keys",
        master_key=text,
        api_key="operator-token-for-the-gateway-tests",
        auth_failure_limit=1000,
    ):
        made = Deployment(backends, gateway.url, main.url, master=master)
        try:
            yield made
        finally:
            made.http.close()


@pytest.fixture
def s3(deployment: Deployment) -> Any:
    return deployment.s3()


@pytest.fixture
def bucket(deployment: Deployment) -> str:
    return deployment.bucket()
