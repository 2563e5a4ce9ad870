"""The two topologies every end-to-end test runs against, as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._topology import Topology, distributed, embedded


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def topology(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        topo = embedded(tmp)
    else:
        admin = request.getfixturevalue("postgres_admin_url")
        request.getfixturevalue("amqp_url")
        endpoint = request.getfixturevalue("s3_endpoint")
        topo = distributed(tmp, admin, endpoint)
    try:
        yield topo
    finally:
        topo.stop()
