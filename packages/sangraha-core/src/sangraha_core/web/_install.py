"""Put the shared plumbing on a service's app in one call."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request

from .._backends import Backends
from ._auth import ApiKeyMiddleware
from ._hardening import HardeningMiddleware
from ._health import health_router
from ._observability import ObservabilityMiddleware, metrics_endpoint
from ._problems import install_problem_handlers

__all__ = ["backends_of", "install_web"]


def backends_of(request: Request) -> Backends:
    """The backends the app was built with (``app.state.backends``)."""
    backends: Backends = request.app.state.backends
    return backends


def install_web(
    app: FastAPI,
    *,
    service: str,
    get_backends: Callable[[Request], Backends] = backends_of,
    api_key: str = "",
) -> None:
    """Problem+json errors, ``/healthz``, ``/readyz``, ``/metrics``, request ids, UTF-8
    paths and ``nosniff`` answers on ``app``.

    With an ``api_key``, every other route needs ``Authorization: Bearer <api_key>``.
    """
    install_problem_handlers(app)
    app.include_router(health_router(get_backends))
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    if api_key:
        # Added first so it runs inside the observability layer: refusals get an id and count.
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)
    # Outside the key check, so a 401 is marked nosniff too; inside observability, so a
    # refused path is counted. Middlewares an app adds before this call (the embedded
    # read fast path) run inside it and see only UTF-8 paths.
    app.add_middleware(HardeningMiddleware)
    app.add_middleware(ObservabilityMiddleware, service=service)
