"""Sangraha's read service: streamed content, records, listing and search, and the console."""

from .app import create_app, main

__all__ = ["create_app", "main"]
