"""Buckets as records of their own: a name, the kinds of object it accepts, and its totals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["Bucket", "BucketKinds", "BucketSummary"]


class BucketKinds(StrEnum):
    """What a bucket accepts: its kind policy."""

    VALIDATED = "validated"
    """JSON documents, images and PDFs only, each validated; any other type is a 415."""
    ANY = "any"
    """Those, validated as ever, and any other content type as an opaque object: stored
    under its digest and deduplicated, listed and searched by key and user metadata, never
    validated and with no extracted metadata."""


class Bucket(BaseModel):
    """One bucket and its policy."""

    model_config = ConfigDict(frozen=True)

    name: str
    kinds: BucketKinds
    created_at: datetime


class BucketSummary(Bucket):
    """A bucket with what it holds."""

    objects: int
    """Keys with at least one version in the bucket, whatever the versions' states."""
    bytes: int
    """The sizes of every version stored in the bucket, added up (before deduplication)."""
