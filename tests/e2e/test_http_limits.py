"""HTTP limits hold on every service process: oversized heads are refused at once, slow
heads, stalled bodies and idle connections are cut after their timeouts."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests._services import free_port
from tests._topology import BIN, Service

__all__: list[str] = []

pytestmark = pytest.mark.timeout(120)

#: Short clocks so each test sees them expire within seconds; the limits on counts and
#: lengths are lowered so that crossing them needs only small requests.
HEAD_TIMEOUT = 1.0
BODY_IDLE_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 1.0
MAX_HEADERS = 20
MAX_URL_BYTES = 2048
#: The default, left as shipped.
MAX_HEADER_BYTES = 64 * 1024

#: How much later than its timeout a connection may be cut, on a busy machine.
SLACK = 2.0


@dataclass
class Running:
    name: str
    port: int
    reads_body: bool
    """Whether the request used for a stalled body is one whose route reads the body."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _argv(name: str, port: int, data: Path) -> list[str]:
    if name == "serve":
        return [str(BIN / "sangraha"), "serve", "--port", str(port), "--data-dir", str(data)]
    return [str(BIN / f"sangraha-{name}"), "--port", str(port)]


@pytest.fixture(scope="module", params=["serve", "receiver", "getter"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """One service process on the embedded backends, with short HTTP limits."""
    name: str = request.param
    tmp = tmp_path_factory.mktemp(f"http-{name}")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGRAHA_")}
    env.update(
        SANGRAHA_DATA_DIR=str(tmp / "data"),
        # The limits hold before any credential is looked at; access has tests of its own.
        SANGRAHA_AUTH="off",
        SANGRAHA_HTTP_HEAD_TIMEOUT=str(HEAD_TIMEOUT),
        SANGRAHA_HTTP_BODY_IDLE_TIMEOUT=str(BODY_IDLE_TIMEOUT),
        SANGRAHA_HTTP_KEEP_ALIVE_TIMEOUT=str(KEEP_ALIVE_TIMEOUT),
        SANGRAHA_HTTP_MAX_HEADERS=str(MAX_HEADERS),
        SANGRAHA_HTTP_MAX_URL_BYTES=str(MAX_URL_BYTES),
    )
    proc = Service(
        name,
        _argv(name, port, tmp / "data"),
        env,
        tmp / f"{name}.log",
        f"http://127.0.0.1:{port}/healthz",
    )
    proc.start()
    try:
        yield Running(name, port, reads_body=name != "getter")
    finally:
        proc.stop()


def _connect(service: Running, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset counts as closed."""
    out = bytearray()
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        out += piece
    return bytes(out)


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def _get(path: str, *headers: bytes) -> bytes:
    lines = [b"GET " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _one_request(service: Running, request: bytes) -> tuple[int, float]:
    """Send ``request`` whole on a connection of its own: the answer's status, and how long
    the server took to close the connection after it."""
    with _connect(service) as sock:
        sock.sendall(request)
        started = time.monotonic()
        answer = _read_until_closed(sock)
        return _status(answer), time.monotonic() - started


def test_huge_header_is_refused_at_once_while_others_are_served(service: Running) -> None:
    served: list[float] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def others() -> None:
        with httpx.Client(base_url=service.url, timeout=5) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    assert client.get("/healthz").status_code == 200
                except BaseException as exc:
                    failures.append(exc)
                    return
                served.append(time.monotonic() - started)

    def send_huge(sock: socket.socket) -> None:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            sock.sendall(b"a" * (64 * 1024 * 1024))
        except OSError:
            # Cut off once refused: the server stops reading after a while.
            pass

    other = threading.Thread(target=others)
    other.start()
    try:
        with _connect(service, timeout=2.0) as sock:
            sender = threading.Thread(target=send_huge, args=(sock,))
            started = time.monotonic()
            sender.start()
            first = sock.recv(64)
            elapsed = time.monotonic() - started
            sender.join(30)
        # Others go on being served after the refusal too.
        time.sleep(0.3)
    finally:
        stop.set()
        other.join(30)
    assert _status(first) == 431
    assert elapsed < 2.0
    assert not failures, failures
    assert served, "no other request was served meanwhile"
    assert max(served) < 2.0, max(served)


def test_head_over_the_byte_limit_in_one_read_is_refused(service: Running) -> None:
    under = b"X-Big: " + b"a" * (MAX_HEADER_BYTES - 1024)
    over = b"X-Big: " + b"a" * (MAX_HEADER_BYTES + 1024)
    assert _one_request(service, _get("/healthz", under, b"Connection: close"))[0] == 200
    assert _one_request(service, _get("/healthz", over))[0] == 431


def test_too_many_headers_answer_431(service: Running) -> None:
    # Host and Connection make up the count.
    fields = [b"X-Field-%d: x" % i for i in range(MAX_HEADERS - 2)]
    assert _one_request(service, _get("/healthz", *fields, b"Connection: close"))[0] == 200
    fields.append(b"X-One-Too-Many: x")
    assert _one_request(service, _get("/healthz", *fields, b"Connection: close"))[0] == 431


def test_over_long_request_target_answers_414(service: Running) -> None:
    prefix = "/healthz?pad="
    fits = prefix + "a" * (MAX_URL_BYTES - len(prefix))
    status, _ = _one_request(service, _get(fits, b"Connection: close"))
    assert status == 200
    assert _one_request(service, _get(fits + "a"))[0] == 414


def test_head_dribbled_byte_by_byte_is_cut_after_the_head_timeout(service: Running) -> None:
    stop = threading.Event()

    def dribble(sock: socket.socket) -> None:
        try:
            # About six seconds of bytes: well past the head timeout, and one request only,
            # so a server without the timeout answers it (late) rather than hanging.
            for byte in _get("/healthz", b"X-Slow: " + b"s" * 16):
                if stop.wait(0.1):
                    return
                sock.send(bytes([byte]))
        except OSError:
            pass

    with _connect(service) as sock:
        started = time.monotonic()
        sender = threading.Thread(target=dribble, args=(sock,))
        sender.start()
        try:
            answer = _read_until_closed(sock)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            sender.join(10)
    assert _status(answer) == 408
    assert HEAD_TIMEOUT - 0.2 < elapsed < HEAD_TIMEOUT + SLACK, elapsed


def test_connection_that_sends_nothing_is_closed_after_the_head_timeout(
    service: Running,
) -> None:
    with _connect(service) as sock:
        started = time.monotonic()
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer == b""
    assert HEAD_TIMEOUT - 0.2 < elapsed < HEAD_TIMEOUT + SLACK, elapsed


def test_body_that_stops_is_cut_after_the_body_idle_timeout(service: Running) -> None:
    head = (
        b"PUT /v1/buckets/limits/objects/stalled.json HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    with _connect(service) as sock:
        sock.sendall(head + b'{"started": ')
        started = time.monotonic()
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    if service.reads_body:
        assert _status(answer) == 408
        assert BODY_IDLE_TIMEOUT - 0.2 < elapsed < BODY_IDLE_TIMEOUT + SLACK, elapsed
    else:
        # No route takes a PUT: answered at once, and the connection ends with the answer
        # instead of waiting for the rest of a body nobody reads.
        assert _status(answer) == 405
        assert elapsed < BODY_IDLE_TIMEOUT / 2, elapsed


def test_idle_keep_alive_connection_is_closed(service: Running) -> None:
    with _connect(service) as sock:
        sock.sendall(_get("/healthz"))
        answer = b""
        while b'{"status":"ok"}' not in answer:
            piece = sock.recv(65536)
            assert piece, answer
            answer += piece
        started = time.monotonic()
        rest = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert _status(answer) == 200
    assert rest == b""
    assert KEEP_ALIVE_TIMEOUT - 0.2 < elapsed < KEEP_ALIVE_TIMEOUT + SLACK, elapsed


def _expecting(path: str, length: int) -> bytes:
    return (
        f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("expect", [True, False], ids=["expecting-100-continue", "sending"])
def test_a_refusal_before_the_body_ends_the_connection(service: Running, expect: bool) -> None:
    # Refused before its body is read: a client waiting for 100 Continue never sends it,
    # and one that sends it anyway is not read through 10 TB. Either way the connection
    # ends with the answer, rather than waiting for a body nobody reads.
    request = _expecting("/v1/buckets/limits/objects/huge.json", 10**13)
    if not expect:
        request = request.replace(b"Expect: 100-continue\r\n", b"") + b"x" * 65536
    with _connect(service) as sock:
        sock.sendall(request)
        started = time.monotonic()
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    head = answer.partition(b"\r\n\r\n")[0].lower()
    assert _status(answer) == (413 if service.reads_body else 405)
    assert b"connection: close" in head.split(b"\r\n")
    assert elapsed < BODY_IDLE_TIMEOUT / 2, elapsed


def test_a_body_asked_for_with_100_continue_keeps_the_connection(service: Running) -> None:
    if not service.reads_body:
        pytest.skip("no route of this service reads a body")
    body = b'{"continued": true}'
    with _connect(service) as sock:
        sock.sendall(_expecting("/v1/buckets/limits/objects/continued.json", len(body)))
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            piece = sock.recv(65536)
            assert piece, answer
            answer += piece
        assert _status(answer) == 202
        assert b"connection: close" not in answer.lower()
        # The same connection serves the next request.
        sock.sendall(_get("/healthz", b"Connection: close"))
        assert b'{"status":"ok"}' in _read_until_closed(sock)
