"""The ``clients`` fixture: each test that takes it runs against both clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.client.clients import KINDS, Clients


@pytest.fixture(params=KINDS)
def clients(request: pytest.FixtureRequest) -> Iterator[Clients]:
    with asyncio.Runner() as runner:
        yield Clients(request.param, runner)
