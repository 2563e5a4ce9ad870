"""Two rules for every request and answer of every service, as one pure ASGI middleware.

- A request whose path or query string is not UTF-8 once percent-decoded is refused with
  a 400 problem. Servers decode it with ``errors="replace"``, so ``%FE%FF``, ``%FF%FE``
  and ``%EF%BF%BD%EF%BF%BD`` would all reach the routes as U+FFFD U+FFFD and name one
  object; only the undecoded bytes (``scope["raw_path"]``, ``scope["query_string"]``)
  still tell them apart. See docs/keys.md.
- Every answer carries ``X-Content-Type-Options: nosniff``, so a browser takes each
  ``Content-Type`` as sent and never guesses stored bytes into HTML or script. That
  includes answers to requests that fail, which the framework would otherwise send from
  outside this layer.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..wire import ProblemType
from ._problems import problem_of

__all__ = ["NOSNIFF", "HardeningMiddleware", "undecodable"]

#: The header every answer carries.
NOSNIFF = (b"x-content-type-options", b"nosniff")


def undecodable(raw: bytes) -> str | None:
    """What is wrong with a percent-encoded path or query, or ``None`` when it is UTF-8.

    Decoding the whole at once is enough: the ``/``, ``&`` and ``=`` that split it into
    names and values are ASCII, which no multi-byte UTF-8 sequence contains, so the whole
    decodes exactly when every piece does.
    """
    if raw.isascii() and b"%" not in raw:
        return None
    decoded = unquote_to_bytes(raw)
    try:
        decoded.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = decoded[error.start : error.end].hex(" ").upper()
        return f"byte {bad} at position {error.start} of the decoded text is not UTF-8"
    return None


class HardeningMiddleware:
    """Refuse paths and query strings that are not UTF-8; mark every answer ``nosniff``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def marking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", ())
                if NOSNIFF[0] not in [name.lower() for name, _ in headers]:
                    message["headers"] = [*headers, NOSNIFF]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, marking_send)
            return
        try:
            await self.app(scope, receive, marking_send)
        except Exception:
            if not started:
                # The framework's last-resort handler answers from outside this layer;
                # answer here so the 500 is marked too. It still sees the error and logs it.
                response = problem_of(
                    ProblemType.INTERNAL,
                    "the server failed; the error is logged",
                    instance=scope.get("path"),
                )
                await response(scope, receive, marking_send)
            raise

    @staticmethod
    def _refusal(scope: Scope) -> Response | None:
        """The 400 for a path or query string that is not UTF-8, else ``None``."""
        raw_path = scope.get("raw_path")
        query: bytes = scope.get("query_string", b"")
        if (raw_path is None or (raw_path.isascii() and b"%" not in raw_path)) and (
            query.isascii() and b"%" not in query
        ):
            return None  # the common case: nothing to decode
        if raw_path is not None:
            # Some servers leave the query on raw_path; it is checked on its own below.
            wrong = undecodable(raw_path.partition(b"?")[0])
            if wrong is not None:
                return problem_of(
                    ProblemType.INVALID_NAME,
                    f"the request path is not UTF-8 once percent-decoded ({wrong}); bucket "
                    "names and object keys are UTF-8 text",
                    instance=scope["path"],
                )
        wrong = undecodable(query)
        if wrong is not None:
            return problem_of(
                ProblemType.INVALID_REQUEST,
                f"the query string is not UTF-8 once percent-decoded ({wrong}); every "
                "parameter, prefixes and metadata filters included, is UTF-8 text",
                instance=scope["path"],
            )
        return None
