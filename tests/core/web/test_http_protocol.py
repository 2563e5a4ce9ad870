"""``LimitedHttpProtocol`` driven directly, byte by byte, on a transport that records."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from sangraha_core.web import HttpLimits, LimitedHttpProtocol, _http, limited_protocol

__all__: list[str] = []

#: Clocks short enough that a test waits a fraction of a second for them.
TICK = 0.05


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.eof = False
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        info = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}
        return info.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _answer(send: Send, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _run(
    limits: HttpLimits,
    app: App,
    scenario: Callable[[LimitedHttpProtocol, RecordingTransport], Coroutine[Any, Any, None]],
) -> None:
    async def main() -> None:
        config = Config(app=app, http=limited_protocol(limits), log_config=None, lifespan="off")
        config.load()
        cls = config.http_protocol_class
        assert issubclass(cls, LimitedHttpProtocol)
        instance = cls(config, ServerState(), {}, asyncio.get_running_loop())
        transport = RecordingTransport()
        instance.connection_made(transport)
        try:
            await scenario(instance, transport)
        finally:
            instance.connection_lost(None)

    asyncio.run(main())


def _status_lines(transport: RecordingTransport) -> list[bytes]:
    return [line for line in bytes(transport.written).split(b"\r\n") if line.startswith(b"HTTP/")]


def test_head_split_over_reads_is_refused_once_past_the_limit() -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["path"])
        await _answer(send)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(b"GET / HTTP/1.1\r\nX-Big: ")
        for _ in range(3):
            protocol.data_received(b"a" * 300)
        assert not transport.written
        protocol.data_received(b"a" * 300)
        assert _status_lines(transport) == [b"HTTP/1.1 431 Request Header Fields Too Large"]
        assert transport.eof and not transport.closed
        # What the client still sends is read and dropped.
        protocol.data_received(b"a" * 300 + b"\r\n\r\n")
        await asyncio.sleep(TICK)
        assert len(_status_lines(transport)) == 1

    _run(HttpLimits(max_header_bytes=1024), app, scenario)
    assert called == []


def test_head_under_the_limit_split_over_reads_reaches_the_app() -> None:
    called: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope["path"])
        await _answer(send)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(b"GET /x HTTP/1.1\r\nX-Big: ")
        for _ in range(3):
            protocol.data_received(b"a" * 300)
        protocol.data_received(b"\r\n\r\n")
        await asyncio.sleep(TICK / 5)
        assert _status_lines(transport) == [b"HTTP/1.1 200 OK"]

    _run(HttpLimits(max_header_bytes=1024), app, scenario)
    assert called == ["/x"]


def test_head_clock_waits_while_the_answer_before_it_is_written() -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await _answer(send)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        # A whole request, then the start of a pipelined one.
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HT")
        await asyncio.sleep(TICK * 3)
        assert not transport.closed and not transport.written
        release.set()
        # The unfinished head's clock runs out, but only after the answer before it.
        await asyncio.sleep(TICK * 3)
        assert _status_lines(transport) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 408 Request Timeout"]

    _run(HttpLimits(head_timeout=TICK), app, scenario)


def test_an_answer_before_the_body_ends_the_connection_after_a_linger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_http, "LINGER_SECONDS", TICK * 10)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 401)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\nbo")
        await asyncio.sleep(TICK / 5)
        assert _status_lines(transport) == [b"HTTP/1.1 401 Unauthorized"]
        assert b"connection: close\r\n" in transport.written
        # Our side is shut; the rest of the body, and a request after it, are dropped.
        assert transport.eof and not transport.closed
        protocol.data_received(b"dy!!" + b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.sleep(TICK)
        assert len(_status_lines(transport)) == 1 and not transport.closed
        await asyncio.sleep(TICK * 10)
        assert transport.closed

    _run(HttpLimits(keep_alive_timeout=10.0), app, scenario)


def test_body_clock_stops_while_the_app_is_behind() -> None:
    got = bytearray()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Slower than the body clock before it reads anything.
        await asyncio.sleep(TICK * 4)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            got.extend(message["body"])
            if not message["more_body"]:
                break
        await _answer(send)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        head = b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n"
        protocol.data_received(head + b"x" * 100_000)
        # More than the server buffers: it stopped reading.
        assert transport.paused
        await asyncio.sleep(TICK * 3)
        assert not transport.closed
        protocol.data_received(b"x" * 100_000)
        await asyncio.sleep(TICK * 3)
        assert _status_lines(transport) == [b"HTTP/1.1 200 OK"]

    _run(HttpLimits(body_idle_timeout=TICK), app, scenario)
    assert len(got) == 200_000


def test_stalled_body_ends_the_request_with_408() -> None:
    messages: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            messages.append(message["type"])
            if message["type"] != "http.request" or not message["more_body"]:
                return

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
        await asyncio.sleep(TICK * 3)
        assert _status_lines(transport) == [b"HTTP/1.1 408 Request Timeout"]
        assert transport.eof

    _run(HttpLimits(body_idle_timeout=TICK), app, scenario)
    assert messages == ["http.request", "http.disconnect"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 64 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5 + b"\r\n", b"431"),
    ],
)
def test_counted_limits_stop_the_parser_at_once(request_bytes: bytes, status: bytes) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("never called")

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(request_bytes)
        assert _status_lines(transport)[0].split()[1] == status

    _run(HttpLimits(max_url_bytes=32, max_headers=4), app, scenario)


def test_keep_alive_clock_takes_fractions_of_a_second() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.sleep(TICK * 3)
        assert _status_lines(transport) == [b"HTTP/1.1 200 OK"]
        assert transport.closed

    _run(HttpLimits(keep_alive_timeout=TICK), app, scenario)


def _expecting(length: int) -> bytes:
    return (
        b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % length
    )


def test_an_answer_before_a_held_back_body_ends_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_http, "LINGER_SECONDS", TICK)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(send, 413)

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(_expecting(4))
        await asyncio.sleep(TICK / 5)
        # No 100 Continue: the client will not send the body.
        assert _status_lines(transport) == [b"HTTP/1.1 413 Request Entity Too Large"]
        assert b"connection: close\r\n" in transport.written
        assert transport.eof
        await asyncio.sleep(TICK * 2)
        assert transport.closed

    _run(HttpLimits(keep_alive_timeout=10.0), app, scenario)


def _kept_open(request: bytes, status: int, *, reads: bool) -> list[bytes]:
    """The status lines the server wrote for ``request`` and a GET after it, answered
    with ``status`` (after reading the body if ``reads``); the connection stays open."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if reads and scope["method"] == "PUT":
            await receive()
        await _answer(send, status)

    lines: list[bytes] = []

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(request)
        await asyncio.sleep(TICK / 5)
        if reads:
            protocol.data_received(b"body")
            await asyncio.sleep(TICK / 5)
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.sleep(TICK / 5)
        assert not transport.closed and not transport.eof
        assert b"connection: close" not in transport.written
        lines.extend(_status_lines(transport))

    _run(HttpLimits(keep_alive_timeout=10.0), app, scenario)
    return lines


def test_a_body_asked_for_with_100_continue_keeps_the_connection() -> None:
    assert _kept_open(_expecting(4), 201, reads=True) == [
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 201 Created",
        b"HTTP/1.1 201 Created",
    ]


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(_expecting(0), id="expecting-an-empty-body"),
        pytest.param(
            b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody", id="body-all-in"
        ),
    ],
)
def test_an_answer_after_the_whole_body_arrived_keeps_the_connection(
    request_bytes: bytes,
) -> None:
    # Unread, but all in: nothing is left to wait for or to drop.
    assert _kept_open(request_bytes, 401, reads=False) == [b"HTTP/1.1 401 Unauthorized"] * 2


def test_an_early_answer_says_close_once_whatever_the_app_said() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def scenario(protocol: LimitedHttpProtocol, transport: RecordingTransport) -> None:
        protocol.data_received(_expecting(4))
        await asyncio.sleep(TICK / 5)
        head = bytes(transport.written).lower().split(b"\r\n")
        assert [line for line in head if line.startswith(b"connection:")] == [b"connection: close"]
        assert transport.eof

    _run(HttpLimits(keep_alive_timeout=10.0), app, scenario)
