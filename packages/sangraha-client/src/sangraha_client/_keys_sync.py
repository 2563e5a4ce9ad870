# Generated from _keys_async.py by scripts/unasync.py: edit that file, then run the script.
# nox -s lint and tests/client/test_unasync.py fail when this one has drifted from it.
"""The access key methods of :class:`~sangraha_client.Client`: the admin API.

Presigned URLs need no request, so they are in :mod:`~sangraha_client._key_requests` with
the requests these methods send. Edit this file: ``_keys_sync.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from sangraha_core.access import Grant, KeyView, NewKeyView

from ._base_client import RequestOptions
from ._key_requests import KeyRequests

__all__ = ["SyncKeyMethods"]


class SyncKeyMethods(KeyRequests):
    """Create, list, show, revoke and rotate access keys."""

    def _request(self, options: RequestOptions) -> httpx.Response:
        # The client's send loop stands in for this.
        raise NotImplementedError

    def create_key(
        self,
        grants: Sequence[str | Grant],
        *,
        name: str = "",
        expires_at: datetime | None = None,
        expires_in: timedelta | float | None = None,
        rate_limit: float | None = None,
    ) -> NewKeyView:
        """Make a key holding ``grants`` (``"photos-*:read,list"`` or :class:`Grant`); the
        answer carries its secret and bearer token, which are never shown again.

        The client's own key needs ``admin`` on those buckets and each action it grants.
        ``expires_in`` (a timedelta or seconds) is counted from now; ``rate_limit`` is
        requests a second on each service process. Not retried: a retry would make a
        second key.
        """
        options = self._create_key_options(
            grants, name=name, expires_at=expires_at, expires_in=expires_in, rate_limit=rate_limit
        )
        return self._parse_new_key(self._request(options))

    def list_keys(self) -> list[KeyView]:
        """The keys the client's key may manage, oldest first (never their secrets)."""
        return self._parse_keys(self._request(self._list_keys_options()))

    def get_key(self, key_id: str) -> KeyView:
        """One key; :class:`AccessKeyNotFoundError` if none this key may manage."""
        return self._parse_key(self._request(self._get_key_options(key_id)))

    def revoke_key(self, key_id: str) -> KeyView:
        """Revoke the key for good; every service refuses it within seconds."""
        return self._parse_key(self._request(self._revoke_key_options(key_id)))

    def rotate_key(self, key_id: str) -> NewKeyView:
        """A new secret for the key, shown in this answer only; the old one stops working."""
        return self._parse_new_key(self._request(self._rotate_key_options(key_id)))
