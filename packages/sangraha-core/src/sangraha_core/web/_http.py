"""HTTP/1.1 limits enforced where the bytes arrive: uvicorn's httptools protocol, bounded.

httptools has no limit of its own on a request head, and it gathers a header value by
concatenating every piece that arrives, so one endless header costs memory and quadratic
copying before any ASGI middleware could see it. Nor does uvicorn time out a head or a body
that stops arriving. This protocol counts the head's bytes as they are read, counts header
fields and the request target as the parser reports them, and keeps three clocks: one for
the head, one for pauses in the body and uvicorn's keep-alive clock at our own precision.
An answer that comes before the request's body has all arrived ends the connection after
it, as a refusal by the protocol does.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import TimerHandle
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from .._constants import (
    DEFAULT_HTTP_BODY_IDLE_TIMEOUT,
    DEFAULT_HTTP_HEAD_TIMEOUT,
    DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT,
    DEFAULT_HTTP_MAX_HEADER_BYTES,
    DEFAULT_HTTP_MAX_HEADERS,
    DEFAULT_HTTP_MAX_URL_BYTES,
)
from .._settings import Settings

if TYPE_CHECKING:
    from uvicorn._types import (
        ASGI3Application,
        ASGIReceiveCallable,
        ASGISendCallable,
        ASGISendEvent,
        HTTPResponseStartEvent,
        Scope,
    )

__all__ = ["HttpLimits", "LimitedHttpProtocol", "limited_protocol"]

logger = logging.getLogger("sangraha.http")

#: After refusing a request the server keeps reading (and dropping) what the client is still
#: sending for this long before it closes: closing with unread bytes makes the kernel send a
#: reset, which can destroy the answer before the client has read it.
LINGER_SECONDS = 2.0

#: Fields that say a request has a body (uvicorn gives their names in lower case).
_BODY_FIELDS: Final = frozenset({b"content-length", b"transfer-encoding"})

#: The bytes a head has besides its target and fields: "GET ", " HTTP/1.1\r\n", the blank
#: line. Only used to tell a head's size from what the parser reported.
_HEAD_FRAMING = 16
#: ": " and "\r\n" around each field.
_FIELD_FRAMING = 4


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one connection may send and how long it may take (see ``Settings.http_*``)."""

    max_header_bytes: int = DEFAULT_HTTP_MAX_HEADER_BYTES
    max_headers: int = DEFAULT_HTTP_MAX_HEADERS
    max_url_bytes: int = DEFAULT_HTTP_MAX_URL_BYTES
    head_timeout: float = DEFAULT_HTTP_HEAD_TIMEOUT
    body_idle_timeout: float = DEFAULT_HTTP_BODY_IDLE_TIMEOUT
    keep_alive_timeout: float = DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            max_headers=settings.http_max_headers,
            max_url_bytes=settings.http_max_url_bytes,
            head_timeout=settings.http_head_timeout,
            body_idle_timeout=settings.http_body_idle_timeout,
            keep_alive_timeout=settings.http_keep_alive_timeout,
        )


class _Phase(Enum):
    IDLE = "idle"
    """Between requests: the next byte starts a head."""
    HEAD = "head"
    BODY = "body"


class _Refused(Exception):
    """Raised from a parser callback to stop httptools at once; the status to answer."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``limits`` on heads, bodies and idle connections.

    A head over ``max_header_bytes`` or with more than ``max_headers`` fields answers 431,
    a target over ``max_url_bytes`` 414, a head slower than ``head_timeout`` 408; each then
    closes the connection. A body with no byte for ``body_idle_timeout`` ends the request
    (408 when nothing was answered yet). An answer that starts before the body is all in
    ends the connection after it. Use :func:`limited_protocol` to bind limits.
    """

    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase = _Phase.IDLE
        # Bytes read since the current head began: an exact count when the head starts a
        # read, short by what shared its first read with the previous request otherwise.
        self._head_bytes = 0
        # The head's size from what the parser reported, exact once the head is complete.
        self._head_size = 0
        self._fields = 0
        self._head_timer: TimerHandle | None = None
        self._body_timer: TimerHandle | None = None
        self._linger_timer: TimerHandle | None = None
        self._last_body_at = 0.0
        self._refused = False
        # The cycle whose answer came before its body was all in: the connection ends after.
        self._closing: RequestResponseCycle | None = None

    # Connection

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        # A connection that never sends a byte is held to the same clock as a slow head.
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._phase is _Phase.BODY:
            self._last_body_at = self.loop.time()
        else:
            if self._head_timer is None:
                self._arm_head_timer()
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__.status)
                return
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                # The connection belongs to the WebSocket protocol from here on.
                self._cancel_timers()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._phase is not _Phase.BODY and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431)
        elif self._phase is _Phase.BODY and self._body_timer is None:
            self._last_body_at = self.loop.time()
            self._body_timer = self.loop.call_later(
                self.limits.body_idle_timeout, self._on_body_idle
            )

    def on_response_complete(self) -> None:
        if self._closing is not None:
            # What is left of the body, and anything after it, is read and dropped.
            self._closing = None
            self.server_state.total_requests += 1
            self._linger()
            return
        super().on_response_complete()
        if self.timeout_keep_alive_task is None:
            # Closing, or a pipelined request was started instead.
            return
        # uvicorn armed its keep-alive clock in whole seconds; ours may be finer. When the
        # next request has already begun, its head clock is the one that counts.
        self.timeout_keep_alive_task.cancel()
        self.timeout_keep_alive_task = None
        if self._phase is _Phase.IDLE and self._head_bytes == 0:
            self._arm_keep_alive_timer()
        elif self._phase is _Phase.HEAD and self._head_timer is None:
            self._arm_head_timer()

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEAD
        self._head_size = _HEAD_FRAMING
        self._fields = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if len(self.url) > self.limits.max_url_bytes:
            raise _Refused(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._head_size += len(name) + len(value) + _FIELD_FRAMING
        if self._fields > self.limits.max_headers:
            raise _Refused(431)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # A head that arrived in one read never showed as incomplete, so its size is
        # checked here, before the app is started.
        if self._head_size > self.limits.max_header_bytes:
            raise _Refused(431)
        self._cancel_head_timer()
        self._phase = _Phase.BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = _Phase.IDLE
        self._head_bytes = 0
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._closing is not None:
            # The connection ends after this answer: a request behind it is not read.
            self._refused = True

    # The app

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        # uvicorn starts every request's app here, pipelined ones too (a hook of its own
        # since 0.45, the version pyproject.toml asks for).
        if any(name in _BODY_FIELDS for name, _ in cycle.scope["headers"]):
            app = self._closing_if_answered_early(app, cycle)
        super()._start_asgi_task(cycle, app)

    def _closing_if_answered_early(
        self, app: ASGI3Application, cycle: RequestResponseCycle
    ) -> ASGI3Application:
        """``app``, whose answer says ``Connection: close`` and ends the connection if it
        starts before the request's body has all arrived.

        Such an answer (a refusal: 401, 404, 413) leaves the rest of the body unread. A
        client that sent ``Expect: 100-continue`` (boto3 on every upload, curl on large
        ones) will never send it, since ``100 Continue`` goes out only when the app first
        reads, and a connection kept open would read its next request as that body (RFC
        9110, section 10.1.1). One that sends the body anyway could make the server read
        on through gigabytes it has already refused. Either way the connection ends, after
        the linger, so that unread bytes cannot reset it before the answer is read.
        """

        async def run(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
            async def closing_send(message: ASGISendEvent) -> None:
                if message["type"] != "http.response.start" or not cycle.more_body:
                    await send(message)
                    return
                # Ours alone: a client reading the first of two would keep the connection.
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != b"connection"
                ]
                headers.append((b"connection", b"close"))
                await send(cast("HTTPResponseStartEvent", {**message, "headers": headers}))
                # The header made uvicorn plan to close at once; the linger closes instead.
                cycle.keep_alive = True
                self._closing = cycle

            await app(scope, receive, closing_send)

        return run

    # Clocks

    def _arm_keep_alive_timer(self) -> None:
        self.timeout_keep_alive_task = self.loop.call_later(
            self.limits.keep_alive_timeout, self.timeout_keep_alive_handler
        )

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._on_head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _response_in_progress(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._response_in_progress():
            # A pipelined head waits on the answer before it, which is not its sender's fault.
            self._arm_head_timer()
            return
        if self._head_bytes == 0 and self._phase is _Phase.IDLE:
            # Nothing was asked: there is nobody to answer.
            self.transport.close()
            return
        self._refuse(408)

    def _on_body_idle(self) -> None:
        self._body_timer = None
        if self._refused or self.transport.is_closing() or self._phase is not _Phase.BODY:
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # Reading stopped because the app is behind; the client could not send.
            self._last_body_at = now
        idle = now - self._last_body_at
        if idle < self.limits.body_idle_timeout:
            self._body_timer = self.loop.call_later(
                self.limits.body_idle_timeout - idle, self._on_body_idle
            )
            return
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started
        if cycle is not None and not cycle.response_complete:
            # The app waiting on the body hears of a disconnect now, and nothing it sends
            # afterwards can mix with the answer written here.
            cycle.disconnected = True
            cycle.message_event.set()
        logger.info("%s: request body idle for %.1fs; closing", self._peer(), idle)
        if answered:
            self.transport.close()
        else:
            self._write_answer(408)
            self._linger()

    # Answers

    def _refuse(self, status: int) -> None:
        logger.info("%s: request refused with %d", self._peer(), status)
        self._cancel_timers()
        if self._response_in_progress():
            # Writing now would land in the middle of the answer to the previous request.
            self.transport.close()
            self._refused = True
            return
        self._write_answer(status)
        self._linger()

    def _bad_request(self) -> None:
        self._cancel_timers()
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _write_answer(self, status: int) -> None:
        reason = STATUS_LINE[status][13:-2]
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(reason)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                reason,
            ]
        )
        self.transport.write(b"".join(content))

    def _linger(self) -> None:
        """Close the write side now, and the connection when the client closes its side or
        after ``LINGER_SECONDS``, whichever comes first; what arrives meanwhile is dropped."""
        self._refused = True
        self._cancel_timers()
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        # Never more than LINGER_SECONDS, however much the client keeps sending.
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"


def limited_protocol(limits: HttpLimits) -> type[LimitedHttpProtocol]:
    """A :class:`LimitedHttpProtocol` bound to ``limits``, to pass as uvicorn's ``http``."""
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {"limits": limits})
