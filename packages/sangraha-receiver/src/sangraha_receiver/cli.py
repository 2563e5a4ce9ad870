"""``sangraha-receiver``: run the write service under uvicorn, with the HTTP limits."""

from __future__ import annotations

from collections.abc import Sequence

from sangraha_core.web import run_service

from .app import create_app

__all__ = ["main"]

DEFAULT_PORT = 8001


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the receiver; backends come from the ``SANGRAHA_*`` environment variables."""
    run_service(
        argv,
        prog="sangraha-receiver",
        description="Sangraha's write service (uploads and deletes).",
        default_port=DEFAULT_PORT,
        create_app=create_app,
    )
