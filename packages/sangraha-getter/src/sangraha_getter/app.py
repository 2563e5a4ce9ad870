"""The getter application: its routes, its backends, and how to run it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from sangraha_core import Backends, Settings, __version__
from sangraha_core.web import backends_lifespan, install_web, run_service

from .buckets import router as buckets_router
from .console import router as console_router
from .content import router as content_router
from .records import router as records_router

__all__ = ["build_router", "create_app", "main"]

DEFAULT_PORT = 8002


def build_router() -> APIRouter:
    """Every read route and the console, for this app or an app that also takes writes.

    The routes find the backends on ``request.app.state.backends``; the app that includes
    them calls ``install_web`` once so core errors become problem answers.
    """
    router = APIRouter()
    router.include_router(content_router)
    router.include_router(records_router)
    router.include_router(buckets_router)
    router.include_router(console_router)
    return router


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """The read service.

    :param settings: where the backends are; read from ``SANGRAHA_*`` when left out.
    :param backends: backends already open (an embedded server, tests). They stay the
        caller's to close. Without them the app opens its own at startup, creating what
        is missing, and closes them at shutdown.
    """
    if settings is None:
        settings = backends.settings if backends is not None else Settings()

    app = FastAPI(
        title="Sangraha getter",
        version=__version__,
        summary="Reads: content with ranges and conditional requests, records, listing.",
        lifespan=backends_lifespan(settings, backends),
    )
    if backends is not None:
        app.state.backends = backends
    app.state.settings = settings
    install_web(app, service="getter", settings=settings)
    app.include_router(build_router())
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """``sangraha-getter [--host H] [--port P]``; backends come from ``SANGRAHA_*``."""
    run_service(
        argv,
        prog="sangraha-getter",
        description="Sangraha's read service (content, records, listing, the console).",
        default_port=DEFAULT_PORT,
        create_app=create_app,
    )
