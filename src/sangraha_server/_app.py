"""The embedded server: receiver, getter and worker threads in one process, on one port,
and the S3 gateway on a second port of the same process, over the same backends."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from fastapi import FastAPI

from sangraha_core import Backends, Settings, __version__
from sangraha_core.access import OPERATOR, AccessKeys, Action, Grant, KeyAdmin, master_key_of
from sangraha_core.web import Listener, configure_logging, install_web, serve_together
from sangraha_gateway import create_app as create_gateway
from sangraha_getter.app import build_router as getter_router
from sangraha_getter.cache import ReadCache
from sangraha_getter.fastpath import ReadFastPath
from sangraha_receiver.buckets import build_router as buckets_router
from sangraha_receiver.fastpath import WriteFastPath
from sangraha_receiver.keys import build_router as keys_router
from sangraha_receiver.objects import build_router as receiver_router
from sangraha_receiver.uploads import build_router as uploads_router
from sangraha_worker import Worker

__all__ = ["DEFAULT_S3_PORT", "create_app", "serve"]

#: Where ``sangraha serve`` answers S3 unless told otherwise.
DEFAULT_S3_PORT = 9000

logger = logging.getLogger("sangraha.server")


def create_app(
    settings: Settings | None = None,
    *,
    announce: TextIO | None = None,
    backends: Backends | None = None,
) -> FastAPI:
    """One app with every route of both services, and the worker running beside it.

    The backends open when the app starts and close when it stops, unless they are given
    (open already, and the caller's to close); pending uploads left by an earlier run are
    queued again at start (the in-process queue does not outlive it).

    :param announce: where to print the first admin key, made at a start that finds access
        control on and no key in the store; without it, no key is made.
    """
    settings = backends.settings if backends is not None else (settings or Settings())
    given = backends

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if given is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        backends = given or Backends.from_settings(settings)
        app.state.backends = backends
        if announce is not None:
            _first_key(settings, backends, announce)
        # Every write of this process goes through these backends, so reads by key may
        # be cached here: the metadata store tells the cache of each change.
        cache = ReadCache(backends, coherent_keys=True)
        app.state.read_cache = cache
        worker = Worker(backends, recover_on_start=True)
        worker.start()
        logger.info("sangraha serving from %s", settings.data_dir.resolve())
        try:
            yield
        finally:
            worker.stop(timeout=30)
            await cache.close()
            if given is None:
                backends.close()

    app = FastAPI(
        title="Sangraha",
        version=__version__,
        summary="Object store for JSON documents, images and PDFs",
        lifespan=lifespan,
    )
    # Added before install_web so they run inside its middlewares: answers from the read
    # cache and small uploads accepted without routing still get a request id, are counted
    # and need the API key.
    app.add_middleware(ReadFastPath)
    app.add_middleware(WriteFastPath)
    install_web(app, service="sangraha", settings=settings, create_master_key=True)
    app.include_router(receiver_router())
    app.include_router(uploads_router())
    app.include_router(keys_router())
    app.include_router(buckets_router())
    app.include_router(getter_router())
    return app


def _first_key(settings: Settings, backends: Backends, out: TextIO) -> None:
    """An admin key for a new installation, printed once: the only way in at first."""
    keys = backends.metadata
    if settings.auth != "keys" or not isinstance(keys, AccessKeys) or keys.list_access_keys():
        return
    master = master_key_of(settings, create=True)
    grant = Grant(buckets="*", actions=frozenset(Action))
    new = KeyAdmin(keys, master).create(OPERATOR, grants=[grant], name="first admin key")
    # Printed, not logged: a secret must never reach a log.
    out.write(
        "\nsangraha: made the first admin key (shown this once; keep it):\n"
        f"  export SANGRAHA_KEY={new.bearer}\n"
        "  more keys: sangraha keys create --grant 'BUCKET:read,list'\n\n"
    )
    out.flush()


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Path | None = None,
    *,
    s3_port: int | None = DEFAULT_S3_PORT,
) -> None:
    """Run the embedded server until interrupted; S3 on ``s3_port`` unless it is ``None``."""
    configure_logging()
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    backends = Backends.from_settings(settings)
    try:
        listeners = [Listener(create_app(announce=sys.stderr, backends=backends), host, port)]
        if s3_port is not None:
            listeners.append(Listener(create_gateway(backends=backends), host, s3_port))
        # No access log: a formatted line per request is a large share of a small request's
        # cost, and ObservabilityMiddleware already counts and times every request.
        serve_together(listeners, settings, access_log=False)
    finally:
        backends.close()
