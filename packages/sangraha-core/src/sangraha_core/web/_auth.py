"""A shared API key: every request but the probes must carry ``Authorization: Bearer <key>``.

Pure ASGI, so a refused upload is answered before a byte of its body is read, and an
accepted one streams through untouched.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from ..wire import ProblemType
from ._problems import problem_of

__all__ = ["OPEN_PATHS", "ApiKeyMiddleware"]

#: Probes and metrics stay open: orchestrators and scrapers hold no key.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ApiKeyMiddleware:
    """Refuse requests without the right bearer token with a 401 problem.

    :param api_key: the expected token; empty means no check at all.
    """

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self._expected = f"Bearer {api_key}".encode() if api_key else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self._expected
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
            or self._authorized(scope)
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = problem_of(
            ProblemType.UNAUTHORIZED,
            "this server needs an API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
            instance=scope["path"],
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                # Constant time, so the answer's timing says nothing about the key.
                return hmac.compare_digest(value.strip(), self._expected)
        return False
