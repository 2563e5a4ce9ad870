"""``sangraha-receiver``: run the write service under uvicorn, with the HTTP limits."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sangraha_core import Settings
from sangraha_core.web import configure_logging, serve

from .app import create_app

__all__ = ["main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8001


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the receiver; backends come from the ``SANGRAHA_*`` environment variables."""
    parser = argparse.ArgumentParser(
        prog="sangraha-receiver", description="Sangraha's write service (uploads and deletes)."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    configure_logging()
    settings = Settings()
    serve(create_app(settings), settings, host=args.host, port=args.port)
