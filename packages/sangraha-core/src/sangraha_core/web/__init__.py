"""HTTP plumbing shared by the receiver and the getter: problems, health, metrics, logs.

Needs the ``web`` extra: ``pip install "sangraha-core[web]"``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request

from .._backends import Backends
from ._health import health_router
from ._observability import (
    BYTES_IN,
    BYTES_OUT,
    ObservabilityMiddleware,
    configure_logging,
    metrics_endpoint,
    request_id,
)
from ._problems import PROBLEM_BASE, install_problem_handlers, problem_for, problem_response

__all__ = [
    "BYTES_IN",
    "BYTES_OUT",
    "PROBLEM_BASE",
    "ObservabilityMiddleware",
    "backends_of",
    "configure_logging",
    "install_web",
    "problem_for",
    "problem_response",
    "request_id",
]


def backends_of(request: Request) -> Backends:
    """The backends the app was built with (``app.state.backends``)."""
    backends: Backends = request.app.state.backends
    return backends


def install_web(
    app: FastAPI, *, service: str, get_backends: Callable[[Request], Backends] = backends_of
) -> None:
    """Problem+json errors, ``/healthz``, ``/readyz``, ``/metrics`` and request ids on ``app``."""
    install_problem_handlers(app)
    app.include_router(health_router(get_backends))
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(ObservabilityMiddleware, service=service)
