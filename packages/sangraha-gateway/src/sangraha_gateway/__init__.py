"""Sangraha's S3 gateway: the S3 API in front of the same pipeline as the v1 API."""

from .app import DEFAULT_PORT, PROBE_PREFIX, create_app, main

__all__ = ["DEFAULT_PORT", "PROBE_PREFIX", "create_app", "main"]
