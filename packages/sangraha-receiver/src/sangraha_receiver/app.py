"""The receiver application: the object routes plus the shared web plumbing."""

from __future__ import annotations

from fastapi import FastAPI

from sangraha_core import Backends, Settings, __version__
from sangraha_core.web import backends_lifespan, install_web

from .buckets import build_router as build_buckets_router
from .fastpath import WriteFastPath
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

    app = FastAPI(
        title="Sangraha receiver",
        summary="Write service: streaming uploads, chunked upload sessions and deletes.",
        version=__version__,
        lifespan=backends_lifespan(settings, backends),
    )
    if backends is not None:
        app.state.backends = backends
    # Added before install_web so it runs inside its middlewares: small uploads accepted
    # without routing still get a request id, are counted and need the API key.
    app.add_middleware(WriteFastPath)
    install_web(app, service="receiver", settings=settings)
    app.include_router(build_router())
    app.include_router(build_upload_router())
    app.include_router(build_keys_router())
    app.include_router(build_buckets_router())
    return app
