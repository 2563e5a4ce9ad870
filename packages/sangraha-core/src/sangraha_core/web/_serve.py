"""Run an app under uvicorn the one way every Sangraha service is run."""

from __future__ import annotations

import argparse
import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from .._logging import configure_logging
from .._settings import Settings
from ._http import HttpLimits, limited_protocol

__all__ = ["DEFAULT_HOST", "Listener", "run_service", "serve", "serve_together"]

#: Where a service listens unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Listener:
    """An app and the address it answers on."""

    app: ASGIApp
    host: str
    port: int


def _config(listener: Listener, settings: Settings, *, access_log: bool) -> uvicorn.Config:
    limits = HttpLimits.from_settings(settings)
    return uvicorn.Config(
        listener.app,
        host=listener.host,
        port=listener.port,
        # uvloop when installed.
        loop="auto",
        http=limited_protocol(limits),
        ws="none",
        log_config=None,
        access_log=access_log,
        proxy_headers=True,
        # The protocol keeps this clock itself, to the fraction of a second; uvicorn's
        # setting only takes whole seconds.
        timeout_keep_alive=math.ceil(limits.keep_alive_timeout),
    )


def serve(
    app: ASGIApp,
    settings: Settings,
    *,
    host: str,
    port: int,
    access_log: bool = True,
) -> None:
    """Serve ``app`` on ``host:port`` until interrupted, with ``settings``' HTTP limits.

    Always uvicorn's httptools parser, bounded by :class:`LimitedHttpProtocol`: its ``auto``
    choice would fall back to h11 where httptools is missing, and nothing bounds h11 here.
    WebSocket is off, since no route takes one and an upgraded connection would leave the
    limits behind. ``X-Forwarded-*`` is trusted from the addresses uvicorn trusts
    (``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default). Logging is left as the caller set it up
    (``configure_logging``); ``access_log`` adds uvicorn's line per request.
    """
    serve_together([Listener(app, host, port)], settings, access_log=access_log)


def serve_together(
    listeners: Sequence[Listener], settings: Settings, *, access_log: bool = True
) -> None:
    """Serve several apps from one process and one event loop, as :func:`serve` serves one.

    They start in order, each once the one before it is up (its lifespan has run), so a
    later app may use what an earlier one opened; they stop in the reverse order: a signal
    reaches the newest server first, which passes it on once it has shut down.
    """
    servers = [uvicorn.Server(_config(item, settings, access_log=access_log)) for item in listeners]
    if len(servers) == 1:
        servers[0].run()
        return

    async def run_all() -> None:
        tasks: list[asyncio.Task[None]] = []
        for server in servers:
            tasks.append(asyncio.create_task(server.serve()))
            while not server.started and not tasks[-1].done():
                await asyncio.sleep(0.05)
            if tasks[-1].done():
                break
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # One server stopped (a signal, or a port it could not take): stop the rest too.
        for server in reversed(servers):
            server.should_exit = True
        await asyncio.gather(*tasks)

    with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:
        runner.run(run_all())


def run_service(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    default_port: int,
    create_app: Callable[[Settings], ASGIApp],
) -> None:
    """A service's command line: ``PROG [--host H] [--port P]``, its backends from the
    ``SANGRAHA_*`` environment, served by :func:`serve` until interrupted."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"the address to listen on (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"the port to listen on (default {default_port})",
    )
    args = parser.parse_args(argv)
    configure_logging()
    settings = Settings()
    serve(create_app(settings), settings, host=args.host, port=args.port)
