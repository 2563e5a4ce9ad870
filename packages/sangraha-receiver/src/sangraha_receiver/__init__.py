"""Sangraha's write service: streaming uploads and deletes over HTTP."""

from .app import create_app
from .cli import main

__all__ = ["create_app", "main"]
