"""The retry decision, its backoff, and the send loop's use of them."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from sangraha_client import (
    APIConnectionError,
    APITimeoutError,
    Client,
    PendingError,
    ServiceUnavailableError,
)
from sangraha_client._base_client import BaseClient, parse_retry_after
from tests.client.fake_sangraha import FakeSangraha, problem


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert BaseClient()._should_retry(response(status), retries_taken=0)


@pytest.mark.parametrize("status", [400, 401, 404, 413, 415, 416, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    assert not BaseClient()._should_retry(response(status), retries_taken=0)


def test_only_a_pending_conflict_is_retried() -> None:
    pending = problem(409, "pending")
    other = problem(409, "conflict")
    assert BaseClient()._should_retry(pending, retries_taken=0)
    assert not BaseClient()._should_retry(other, retries_taken=0)


def test_should_retry_header_overrides_the_status() -> None:
    client = BaseClient()
    assert not client._should_retry(response(503, **{"x-should-retry": "false"}), retries_taken=0)
    assert client._should_retry(response(400, **{"x-should-retry": "true"}), retries_taken=0)


def test_retries_stop_at_max_retries() -> None:
    client = BaseClient(max_retries=2)
    assert client._should_retry(response(503), retries_taken=1)
    assert not client._should_retry(response(503), retries_taken=2)


def test_retry_after_is_honoured_up_to_a_minute() -> None:
    client = BaseClient()
    assert client._retry_delay(retries_taken=0, headers={"retry-after": "3"}) == 3.0
    assert client._retry_delay(retries_taken=0, headers={"retry-after-ms": "1500"}) == 1.5
    long = client._retry_delay(retries_taken=0, headers={"retry-after": "600"})
    assert long <= 0.5


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    parsed = parse_retry_after({"retry-after": when})
    assert parsed is not None and 25 < parsed <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None


@pytest.mark.parametrize("n", range(8))
def test_backoff_is_exponential_capped_and_jittered(n: int) -> None:
    client = BaseClient()
    ceiling = min(0.5 * 2**n, 8.0)
    delays = [client._retry_delay(retries_taken=n, headers=None) for _ in range(50)]
    assert all(0.75 * ceiling <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


def make_client(fake: FakeSangraha, **kwargs: object) -> tuple[Client, list[float]]:
    client = Client(base_url="http://sangraha.test", transport=fake.transport(), **kwargs)  # type: ignore[arg-type]
    slept: list[float] = []
    client._sleep = slept.append  # type: ignore[method-assign, assignment]
    return client, slept


def test_idempotency_key_is_reused_across_retries() -> None:
    fake = FakeSangraha()
    calls = iter([problem(503, "unavailable", **{"Retry-After": "1"}), problem(500, "x")])
    fake.intercept = lambda request: next(calls, None)
    client, slept = make_client(fake)
    record = client.put_object("docs", "a.json", b'{"a": 1}')
    assert record.key == "a.json"
    keys = {r.headers["idempotency-key"] for r in fake.requests}
    assert len(fake.requests) == 3 and len(keys) == 1
    assert fake.bodies == [b'{"a": 1}'] * 3
    assert slept[0] == 1.0


def test_callers_idempotency_key_is_sent() -> None:
    fake = FakeSangraha()
    client, _ = make_client(fake)
    client.put_object("docs", "a.json", b"{}", idempotency_key="mine-1")
    assert fake.requests[0].headers["idempotency-key"] == "mine-1"


def test_a_one_shot_body_is_never_retried() -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(503, "unavailable")
    client, slept = make_client(fake)
    with pytest.raises(ServiceUnavailableError):
        client.put_object("docs", "a.json", iter([b"{", b"}"]), content_type="application/json")
    assert len(fake.requests) == 1 and slept == []


def test_pending_content_is_retried_then_raised() -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(409, "pending", **{"Retry-After": "2"})
    client, slept = make_client(fake, max_retries=3)
    with pytest.raises(PendingError) as info:
        client.get_object("docs", "a.json")
    assert slept == [2.0, 2.0, 2.0]
    assert info.value.retry_after == 2.0


def test_with_options_changes_retries_for_one_call() -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(503, "unavailable")
    client, _ = make_client(fake)
    quiet = client.with_options(max_retries=0)
    quiet._sleep = client._sleep  # type: ignore[method-assign]
    with pytest.raises(ServiceUnavailableError):
        quiet.get_object("docs", "a.json")
    assert len(fake.requests) == 1
    assert client.max_retries == 2


def test_connection_errors_are_retried_then_wrapped() -> None:
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = Client(base_url="http://sangraha.test", transport=httpx.MockTransport(refuse))
    client._sleep = lambda s: None  # type: ignore[method-assign, assignment]
    with pytest.raises(APIConnectionError) as info:
        client.get_record("docs", "a.json")
    assert not isinstance(info.value, APITimeoutError)
    assert len(attempts) == 3


def test_timeouts_become_api_timeout_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = Client(
        base_url="http://sangraha.test", transport=httpx.MockTransport(slow), max_retries=0
    )
    with pytest.raises(APITimeoutError):
        client.get_record("docs", "a.json")
