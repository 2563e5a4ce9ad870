"""The receiver application: the object routes plus the shared web plumbing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import FastAPI

from sangraha_core import Backends, Settings, __version__
from sangraha_core.web import install_web

from .buckets import build_router as build_buckets_router
from .keys import build_router as build_keys_router
from .objects import build_router
from .uploads import build_router as build_upload_router

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """The receiver as an ASGI app.

    :param settings: where the backends are; read from ``SANGRAHA_*`` variables when omitted.
    :param backends: backends already open (the embedded server, tests). The caller keeps
        them and closes them; otherwise the app opens its own at startup, creating what is
        missing, and closes them at shutdown.
    """
    if backends is not None:
        settings = backends.settings
    elif settings is None:
        settings = Settings()
    resolved = settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if backends is not None:
            yield
            return
        opened = await anyio.to_thread.run_sync(
            partial(Backends.from_settings, resolved, setup=True)
        )
        app.state.backends = opened
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(opened.close)

    app = FastAPI(
        title="Sangraha receiver",
        summary="Write service: streaming uploads, chunked upload sessions and deletes.",
        version=__version__,
        lifespan=lifespan,
    )
    if backends is not None:
        app.state.backends = backends
    install_web(app, service="receiver", settings=settings)
    app.include_router(build_router())
    app.include_router(build_upload_router())
    app.include_router(build_keys_router())
    app.include_router(build_buckets_router())
    return app
