"""What access control needs of a metadata store: one table of keys.

The SQL store implements it beside its other aggregates; any store that does can back
access control, and ``sangraha_core.testing`` checks it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from ._keys import AccessKey

__all__ = ["AccessKeys"]


@runtime_checkable
class AccessKeys(Protocol):
    """Access keys by id. Unreachable databases raise ``MetadataUnavailableError``."""

    def create_access_key(self, key: AccessKey) -> None:
        """Store a new key; its id is new (made of 90 random bits)."""
        ...

    def get_access_key(self, key_id: str) -> AccessKey:
        """Raise ``AccessKeyNotFoundError`` if there is no such key."""
        ...

    def list_access_keys(self) -> list[AccessKey]:
        """Every key, revoked ones too, oldest first."""
        ...

    def revoke_access_key(self, key_id: str, at: datetime) -> AccessKey:
        """Mark the key revoked at ``at`` (keeping an earlier revocation); the key as it
        now stands. ``AccessKeyNotFoundError`` if there is no such key."""
        ...

    def rotate_access_key(self, key_id: str, sealed_secret: str) -> AccessKey:
        """Replace the key's sealed secret; the key as it now stands."""
        ...

    def touch_access_key(self, key_id: str, at: datetime) -> None:
        """Record a use at ``at``; never moves ``last_used_at`` back. A missing key is no
        error (it may have been removed meanwhile)."""
        ...
