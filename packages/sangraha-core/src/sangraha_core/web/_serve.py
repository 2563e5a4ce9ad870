"""Run an app under uvicorn the one way every Sangraha service is run."""

from __future__ import annotations

import math

import uvicorn
from starlette.types import ASGIApp

from .._settings import Settings
from ._http import HttpLimits, limited_protocol

__all__ = ["serve"]


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
    limits = HttpLimits.from_settings(settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
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
