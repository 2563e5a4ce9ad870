"""Metadata stores: the protocol, and the SQL backend for SQLite and PostgreSQL."""

from ._protocol import FinalizeResult, MetadataStore

__all__ = ["FinalizeResult", "MetadataStore"]
