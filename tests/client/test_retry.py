"""The retry decision, its backoff, and the send loop's use of them in both clients."""

from __future__ import annotations

import email.utils
import pathlib
import time

import httpx
import pytest

from sangraha_client import (
    APIConnectionError,
    APITimeoutError,
    PendingError,
    RateLimitError,
    ServiceUnavailableError,
)
from sangraha_client._base_client import BaseClient
from sangraha_client._headers import parse_retry_after
from tests.client.clients import Clients
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


# -- the send loop, in both clients ----------------------------------------------------------


def answers(fake: FakeSangraha, *responses: httpx.Response) -> None:
    """The fake answers these first, in order, then serves requests as usual."""
    calls = iter(responses)
    fake.intercept = lambda request: next(calls, None)


def test_idempotency_key_is_reused_across_retries(clients: Clients) -> None:
    fake = FakeSangraha()
    answers(fake, problem(503, "unavailable", **{"Retry-After": "1"}), problem(500, "x"))
    client = clients(transport=fake.transport())
    record = client.put_object("docs", "a.json", b'{"a": 1}')
    assert record.key == "a.json"
    keys = {r.headers["idempotency-key"] for r in fake.requests}
    assert len(fake.requests) == 3 and len(keys) == 1
    assert fake.bodies == [b'{"a": 1}'] * 3
    assert clients.slept[0] == 1.0


def test_a_file_is_sent_whole_again_on_each_retry(clients: Clients, tmp_path: pathlib.Path) -> None:
    fake = FakeSangraha()
    answers(fake, problem(503, "unavailable"), problem(502, "bad-gateway"))
    path = tmp_path / "a.json"
    path.write_bytes(b'{"rows": [1, 2, 3]}')
    client = clients(transport=fake.transport())
    client.put_object("docs", "a.json", path, idempotency_key="mine-2")
    assert fake.bodies == [path.read_bytes()] * 3
    assert {r.headers["idempotency-key"] for r in fake.requests} == {"mine-2"}
    assert len(clients.slept) == 2


def test_callers_idempotency_key_is_sent(clients: Clients) -> None:
    fake = FakeSangraha()
    client = clients(transport=fake.transport())
    client.put_object("docs", "a.json", b"{}", idempotency_key="mine-1")
    assert fake.requests[0].headers["idempotency-key"] == "mine-1"


def test_a_one_shot_body_is_never_retried(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(503, "unavailable")
    client = clients(transport=fake.transport())
    with pytest.raises(ServiceUnavailableError):
        client.put_object("docs", "a.json", iter([b"{", b"}"]), content_type="application/json")
    assert len(fake.requests) == 1 and clients.slept == []


def test_pending_content_is_retried_then_raised(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(409, "pending", **{"Retry-After": "2"})
    client = clients(transport=fake.transport(), max_retries=3)
    with pytest.raises(PendingError) as info:
        client.get_object("docs", "a.json")
    assert clients.slept == [2.0, 2.0, 2.0]
    assert info.value.retry_after == 2.0


def test_retry_after_is_honoured_in_the_loop(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.store("docs", "a.json", b"{}")
    answers(
        fake,
        problem(429, "rate-limited", **{"retry-after-ms": "250"}),
        problem(503, "unavailable", **{"Retry-After": "7"}),
    )
    client = clients(transport=fake.transport())
    assert client.get_object("docs", "a.json") == b"{}"
    assert clients.slept == [0.25, 7.0]


def test_a_retry_after_past_a_minute_gives_way_to_backoff(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(429, "rate-limited", **{"Retry-After": "3600"})
    client = clients(transport=fake.transport(), max_retries=2)
    with pytest.raises(RateLimitError):
        client.get_record("docs", "a.json")
    assert len(fake.requests) == 3
    assert 0.375 <= clients.slept[0] <= 0.5 and 0.75 <= clients.slept[1] <= 1.0


def test_should_retry_false_stops_the_loop(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(503, "unavailable", **{"x-should-retry": "false"})
    client = clients(transport=fake.transport())
    with pytest.raises(ServiceUnavailableError):
        client.get_record("docs", "a.json")
    assert len(fake.requests) == 1 and clients.slept == []


def test_with_options_changes_retries_for_one_call(clients: Clients) -> None:
    fake = FakeSangraha()
    fake.intercept = lambda request: problem(503, "unavailable")
    client = clients(transport=fake.transport())
    quiet = client.with_options(max_retries=0)
    with pytest.raises(ServiceUnavailableError):
        quiet.get_object("docs", "a.json")
    assert len(fake.requests) == 1
    assert client.max_retries == 2


def refusing(attempts: list[httpx.Request], failures: int) -> httpx.MockTransport:
    """Refuses the first ``failures`` connections, then answers from a fresh fake."""
    fake = FakeSangraha()

    def handle(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) <= failures:
            raise httpx.ConnectError("refused", request=request)
        return fake.handle(request)

    return httpx.MockTransport(handle)


def test_connection_errors_are_retried_then_wrapped(clients: Clients) -> None:
    attempts: list[httpx.Request] = []
    client = clients(transport=refusing(attempts, failures=99))
    with pytest.raises(APIConnectionError) as info:
        client.get_record("docs", "a.json")
    assert not isinstance(info.value, APITimeoutError)
    assert len(attempts) == 3 and len(clients.slept) == 2


def test_an_upload_survives_refused_connections_with_one_key(clients: Clients) -> None:
    attempts: list[httpx.Request] = []
    client = clients(transport=refusing(attempts, failures=2))
    record = client.put_object("docs", "a.json", b'{"a": 1}')
    assert record.key == "a.json"
    assert len(attempts) == 3
    assert len({r.headers["idempotency-key"] for r in attempts}) == 1
    # Backoff without a Retry-After: 0.5 s, then 1 s, each less up to 25 % jitter.
    assert 0.375 <= clients.slept[0] <= 0.5 and 0.75 <= clients.slept[1] <= 1.0


def test_timeouts_become_api_timeout_error(clients: Clients) -> None:
    attempts: list[httpx.Request] = []

    def slow(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    client = clients(transport=httpx.MockTransport(slow), max_retries=1)
    with pytest.raises(APITimeoutError):
        client.get_record("docs", "a.json")
    assert len(attempts) == 2 and len(clients.slept) == 1


def test_a_connection_error_names_the_method_and_url_but_no_secret(clients: Clients) -> None:
    client = clients(
        transport=refusing([], failures=99),
        base_url="http://user:pa55word@sangraha.test:8123",
        max_retries=0,
    )
    with pytest.raises(APIConnectionError) as info:
        client.get_object("docs", "a b.json", version="v1")
    text = str(info.value)
    assert text.startswith("Connection error: GET http://sangraha.test:8123/v1/buckets/docs/")
    assert "version=v1" in text and text.endswith("(refused)")
    assert "pa55word" not in text and "user" not in text


def test_a_presigned_querys_secrets_are_not_printed() -> None:
    signed = "X-Amz-Credential=SK1%2F20261202&X-Amz-Signature=0123abcd&X-Amz-Expires=60"
    request = httpx.Request("PUT", f"http://sangraha.test/v1/buckets/d/objects/k?{signed}")
    error = APIConnectionError(request=request, reason="refused while sending 0123abcd")
    text = str(error)
    assert text.startswith("Connection error: PUT http://sangraha.test/v1/buckets/d/objects/k?")
    assert "0123abcd" not in text and "SK1" not in text
    assert "X-Amz-Signature=REDACTED" in text and "X-Amz-Expires=60" in text
    assert error.request is request, "the request itself is kept whole, for the caller"
    timeout = str(APITimeoutError(request=request))
    assert timeout.startswith("Request timed out: PUT ") and "0123abcd" not in timeout
