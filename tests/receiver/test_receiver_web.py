"""The plumbing every service shares, seen through the receiver: probes, metrics, API key."""

from __future__ import annotations

import httpx
import pytest

from sangraha_core.access import MasterKey
from sangraha_receiver import create_app
from tests.receiver._support import JSON_BODY, BackendsFactory, assert_problem

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


async def test_probes_and_metrics_answer(embedded_client: httpx.AsyncClient) -> None:
    assert (await embedded_client.get("/healthz")).json() == {"status": "ok"}

    ready = await embedded_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"blobs": "ok", "metadata": "ok", "queue": "ok"}

    await embedded_client.put("/v1/buckets/bucket-ok/objects/x", content=JSON_BODY, headers=JSON)
    metrics = await embedded_client.get("/metrics")
    assert metrics.status_code == 200
    assert 'service="receiver"' in metrics.text
    assert "sangraha_http_requests_total" in metrics.text
    # The upload's job waits on the (in-process) queue: the backlog is reported as it is.
    assert "sangraha_queue_depth 1.0" in metrics.text


async def test_openapi_describes_the_write_routes(embedded_client: httpx.AsyncClient) -> None:
    paths = (await embedded_client.get("/openapi.json")).json()["paths"]
    assert {"put", "delete"} <= set(paths["/v1/buckets/{bucket}/objects/{key}"])
    assert "post" in paths["/v1/buckets/{bucket}/objects"]


async def test_unknown_route_is_a_404_problem(embedded_client: httpx.AsyncClient) -> None:
    assert_problem(await embedded_client.get("/v1/nothing"), 404, "not-found")


async def test_api_key_is_required_when_configured(make_embedded: BackendsFactory) -> None:
    master = MasterKey.generate()[1]
    app = create_app(backends=make_embedded(api_key="s3cret-key", auth="keys", master_key=master))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        url = "/v1/buckets/bucket-ok/objects/x"
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"}):
            refused = await c.put(url, content=JSON_BODY, headers={**JSON, **auth})
            assert_problem(refused, 401, "unauthorized")
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert refused.headers["x-request-id"]
        assert_problem(await c.delete(url), 401, "unauthorized")

        accepted = await c.put(
            url, content=JSON_BODY, headers={**JSON, "Authorization": "Bearer s3cret-key"}
        )
        assert accepted.status_code == 202, accepted.text

        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert (await c.get(open_path)).status_code == 200, open_path


async def test_no_api_key_means_no_check(embedded_client: httpx.AsyncClient) -> None:
    response = await embedded_client.put(
        "/v1/buckets/bucket-ok/objects/x",
        content=JSON_BODY,
        headers={**JSON, "Authorization": "Bearer anything"},
    )
    assert response.status_code == 202, response.text
