"""Put the shared plumbing on a service's app in one call."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request

from .._backends import Backends
from .._settings import Settings
from ._access import OPEN_PREFIXES, AccessMiddleware
from ._docs import install_docs
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
    settings: Settings,
    get_backends: Callable[[Request], Backends] = backends_of,
    create_master_key: bool = False,
) -> None:
    """Problem+json errors, ``/healthz``, ``/readyz``, ``/metrics``, ``/docs`` and
    ``/redoc`` served without internet, request ids, UTF-8 paths, ``nosniff`` answers and
    access control (``settings.auth``) on ``app``.

    :param create_master_key: see :class:`AccessMiddleware`.
    """
    install_problem_handlers(app)
    install_docs(app)
    app.include_router(health_router(get_backends))
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    # Added first so it runs inside the observability layer: refusals get an id and count.
    app.add_middleware(
        AccessMiddleware,
        settings=settings,
        create_master_key=create_master_key,
        open_prefixes=OPEN_PREFIXES,
    )
    # Outside the key check, so a 401 is marked nosniff too; inside observability, so a
    # refused path is counted. Middlewares an app adds before this call (the embedded
    # read fast path) run inside it and see only UTF-8 paths.
    app.add_middleware(HardeningMiddleware)
    app.add_middleware(ObservabilityMiddleware, service=service)
