"""The lifespan every service app shares: backends given to it, or opened and closed by it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from .._backends import Backends
from .._settings import Settings

__all__ = ["backends_lifespan"]


def backends_lifespan(
    settings: Settings, backends: Backends | None
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """A lifespan that puts the backends on ``app.state.backends``.

    Backends given (an embedded server, tests) stay the caller's to close; without them the
    app opens its own at startup, creating what is missing, and closes them at shutdown.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if backends is not None:
            app.state.backends = backends
            yield
            return
        opened = await run_in_threadpool(Backends.from_settings, settings, setup=True)
        app.state.backends = opened
        try:
            yield
        finally:
            await run_in_threadpool(opened.close)

    return lifespan
