"""Access control on the HTTP API: who a request is (here), and what it may do (the routes).

Pure ASGI, so a refused upload is answered before a byte of its body is read. The
principal a request proves goes on ``request.state.principal``; each route then asks
:func:`principal_of` for it and checks the grant its operation needs, because only the
route knows the bucket (for a version by id, only after reading the record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from fastapi import Depends, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .._exceptions import (
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    SangrahaError,
    UnauthenticatedError,
)
from .._settings import Settings
from ..access import (
    ANYONE,
    AccessGuard,
    AccessKeys,
    Action,
    MasterKey,
    NeedsRead,
    Principal,
    SignedRequest,
    looks_like_bearer,
    master_key_of,
)
from ._docs import DOCS_OPEN_PATHS
from ._problems import problem_for

__all__ = [
    "OPEN_PATHS",
    "OPEN_PREFIXES",
    "AccessMiddleware",
    "Refusal",
    "access_of",
    "principal_of",
    "require",
    "requires",
    "requires_admin",
]

logger = logging.getLogger("sangraha.access")

#: Open to anyone: probes and metrics (orchestrators and scrapers hold no key), the API's
#: description and its reference pages with their assets (read-only), and the console's
#: page, which asks for a key itself.
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/console", *DOCS_OPEN_PATHS}
)
#: Open to anyone for reading (GET and HEAD only): the console's modules and style, which
#: hold no data; what they fetch asks for the key the page was given.
OPEN_PREFIXES = ("/console/assets/",)
_READ_METHODS = frozenset({"GET", "HEAD"})


#: How a refused request is answered, from the error and the request's scope.
Refusal = Callable[[SangrahaError, Scope], Response]


def _problem_refusal(error: SangrahaError, scope: Scope) -> Response:
    return problem_for(error, instance=scope["path"])


def principal_of(request: Request) -> Principal:
    """Whom the request acts as; everyone, on an app without access control."""
    principal: Principal = getattr(request.state, "principal", ANYONE)
    return principal


def require(request: Request, action: Action, bucket: str) -> Principal:
    """The request's principal, if it holds ``action`` on ``bucket``; else 403."""
    principal = principal_of(request)
    principal.require(action, bucket)
    return principal


def access_of(request: Request) -> AccessGuard:
    """The app's guard (its key ring, limits and key admin); 404 where access is off."""
    guard: AccessGuard | None = getattr(request.app.state, "access", None)
    if guard is None:
        raise NotFoundError("this server keeps no access keys: SANGRAHA_AUTH is off")
    return guard


def requires(action: Action) -> Any:
    """A route dependency: 403 unless the key holds ``action`` on the path's ``bucket``.

    Dependencies run before a JSON body is validated, so a key without the grant learns
    that, not what its body lacks.
    """

    def check(request: Request) -> None:
        require(request, action, request.path_params["bucket"])

    return Depends(check)


def requires_admin(request: Request) -> None:
    """A route dependency: 403 unless the key holds ``admin`` on some buckets."""
    principal = principal_of(request)
    if not principal.is_admin:
        principal.require(Action.ADMIN, "*")


def _signed_request(scope: Scope) -> SignedRequest:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    return SignedRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1"),
        query=scope["query_string"].decode("latin-1"),
        headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]],
    )


_AUTHORIZATION = b"authorization"
_BEARER = b"bearer "


def _bearer_of(scope: Scope) -> str | None:
    """The token of a request whose one ``Authorization`` header is a bearer token, read
    from the raw headers as :meth:`Authenticator.authenticate` reads it from the decoded
    request; ``None`` for any other request, which takes the general path."""
    found: bytes | None = None
    for name, value in scope["headers"]:
        if name == _AUTHORIZATION:
            if found is not None:
                return None  # several are joined with "," by the general path
            found = value
    if found is None or found[: len(_BEARER)].lower() != _BEARER:
        return None
    return found[len(_BEARER) :].decode("latin-1").strip()


class AccessMiddleware:
    """Authenticate every request but those to :data:`OPEN_PATHS`, with abuse limits.

    The master key is read when the app is built, so a service without one stops at
    once with the reason; the guard (``app.state.access``) is made at the first request,
    over the metadata store the app's backends opened.

    :param create_master_key: make the master key file if it is missing (the embedded
        server, whose data directory is the whole installation).
    :param open_paths: the paths anyone may reach.
    :param open_prefixes: the path prefixes anyone may read (GET, HEAD); none unless given,
        so an app that serves no console (the S3 gateway) opens nothing by it.
    :param refuse: how a refusal is answered (problem+json; the S3 gateway answers in XML).
    :param declare_payload: turn a signed body hash into the upload's declared digest
        (the v1 API); without it, the hash is left on ``scope["state"]["payload_sha256"]``
        for the app to check.
    :param allow_streaming: accept ``aws-chunked`` bodies signed chunk by chunk; what
        their chunk signatures are checked against goes on ``scope["state"]["streaming"]``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        create_master_key: bool = False,
        open_paths: frozenset[str] = OPEN_PATHS,
        open_prefixes: tuple[str, ...] = (),
        refuse: Refusal = _problem_refusal,
        declare_payload: bool = True,
        allow_streaming: bool = False,
    ) -> None:
        self.app = app
        self._settings = settings
        self._open_paths = open_paths
        self._open_prefixes = open_prefixes
        self._refuse = refuse
        self._declare_payload = declare_payload
        self._allow_streaming = allow_streaming
        self._master: MasterKey | None = None
        if settings.auth == "keys":
            self._master = master_key_of(settings, create=create_master_key)
            if looks_like_bearer(settings.api_key):
                # Likely exported for the CLI in the server's shell; as the operator token
                # it would give that key every right there is.
                raise ConfigurationError(
                    "SANGRAHA_API_KEY holds an access key's bearer token; on a server it is "
                    "the operator token, which may do anything: unset it where the server runs"
                )

    def _guard(self, scope: Scope) -> AccessGuard:
        state = scope["app"].state
        guard: AccessGuard | None = getattr(state, "access", None)
        if guard is None:
            assert self._master is not None
            store = state.backends.metadata
            if not isinstance(store, AccessKeys):
                raise ConfigurationError(
                    f"access control needs a metadata store that keeps access keys; "
                    f"{type(store).__name__} does not (or set SANGRAHA_AUTH=off)"
                )
            # No await since the check, so two first requests cannot both build one.
            guard = state.access = AccessGuard(
                self._settings, store, self._master, allow_streaming=self._allow_streaming
            )
        return guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self._master is not None:
            # No route speaks WebSocket; none may be reached without a key either.
            await send({"type": "websocket.close", "code": 1008})
            return
        if self._master is None or scope["type"] != "http" or self._is_open(scope):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        try:
            principal = await self._authenticate(self._guard(scope), scope, address)
        except SangrahaError as error:
            if isinstance(error, UnauthenticatedError):
                # The reason goes to the client, never the credentials to the log.
                logger.info("refused credentials from %s: %s", address, error)
            await self._refuse(error, scope)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)

    def _is_open(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in self._open_paths:
            return True
        return scope["method"] in _READ_METHODS and path.startswith(self._open_prefixes)

    async def _authenticate(self, guard: AccessGuard, scope: Scope, address: str) -> Principal:
        wait = guard.throttle.blocked(address)
        if wait is not None:
            raise RateLimitedError(
                "too many failed sign-ins from this address; try again later", retry_after=wait
            )
        # A bearer token needs nothing else of the request: the common case skips decoding
        # every header into a SignedRequest.
        token = _bearer_of(scope)
        try:
            try:
                if token is not None:
                    identity = guard.authenticate_bearer(token, blocking=False)
                else:
                    request = _signed_request(scope)
                    identity = guard.authenticate(request, blocking=False)
            except NeedsRead:
                if token is not None:
                    bearer = token
                    identity = await anyio.to_thread.run_sync(
                        lambda: guard.authenticate_bearer(bearer, blocking=True)
                    )
                else:
                    identity = await anyio.to_thread.run_sync(
                        lambda: guard.authenticate(request, blocking=True)
                    )
        except UnauthenticatedError:
            guard.throttle.failed(address)
            raise
        guard.limit(identity.principal)
        if identity.streaming is not None:
            scope.setdefault("state", {})["streaming"] = identity.streaming
        if identity.payload_sha256 is not None:
            if self._declare_payload:
                _declare_payload(scope, identity.payload_sha256)
            else:
                scope.setdefault("state", {})["payload_sha256"] = identity.payload_sha256
        return identity.principal


_SHA256_HEADER = b"x-sangraha-sha256"


def _declare_payload(scope: Scope, sha256: str) -> None:
    """A signed body hash becomes the upload's declared digest, which the write path
    already checks as the bytes arrive: a body altered on the way is refused, not stored."""
    headers: list[Any] = list(scope["headers"])
    declared = [v for n, v in headers if n == _SHA256_HEADER]
    if declared and declared != [sha256.encode()]:
        raise InvalidRequestError(
            "x-sangraha-sha256 and the signed x-amz-content-sha256 name different bodies"
        )
    if not declared:
        headers.append((_SHA256_HEADER, sha256.encode()))
        scope["headers"] = headers
