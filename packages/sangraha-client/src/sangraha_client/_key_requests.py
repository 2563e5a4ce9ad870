"""Access keys and presigned URLs, as pure steps both clients share.

The requests of the admin API (``/v1/keys``, on the write service, which hosts it), the
parsing of its answers, and presigned URLs, which need no request at all: they are signed
here with the id and secret of the key the client holds as its ``api_key``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pydantic

from sangraha_core.access import (
    MAX_EXPIRES,
    CreateKey,
    Grant,
    KeyView,
    NewKeyView,
    looks_like_bearer,
    presign,
    split_bearer,
)

from ._base_client import BaseClient, RequestOptions

__all__ = [
    "DEFAULT_PRESIGN_EXPIRES",
    "DEFAULT_REGION",
    "ENV_REGION",
    "KeyRequests",
    "expiry_of",
    "presign_seconds",
]

#: The region SigV4 signatures are scoped to, as the services read it.
ENV_REGION = "SANGRAHA_REGION"
DEFAULT_REGION = "us-east-1"
DEFAULT_PRESIGN_EXPIRES = 3600.0

_KEY_LIST_ADAPTER = pydantic.TypeAdapter(list[KeyView])


def _grant(grant: str | Grant) -> Grant:
    return grant if isinstance(grant, Grant) else Grant.parse(grant)


def _seconds(value: timedelta | float, what: str) -> float:
    # bool is an int, and True seconds is surely a mistake.
    if isinstance(value, bool) or not isinstance(value, timedelta | int | float):
        raise TypeError(f"{what} is a timedelta or a number of seconds, not {value!r}")
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def expiry_of(
    expires_at: datetime | None, expires_in: timedelta | float | None, *, now: datetime
) -> datetime | None:
    """When a new key stops working: ``expires_at``, or ``expires_in`` from ``now``."""
    if expires_at is not None and expires_in is not None:
        raise ValueError("give expires_at or expires_in, not both")
    if expires_in is not None:
        seconds = _seconds(expires_in, "expires_in")
        if seconds <= 0:
            raise ValueError(f"expires_in must be more than 0 seconds, not {seconds:g}")
        return now + timedelta(seconds=seconds)
    if expires_at is not None and expires_at.utcoffset() is None:
        # A naive time means a different instant on the server than here.
        raise ValueError("expires_at must be timezone-aware, e.g. datetime.now(UTC) + ...")
    return expires_at


def presign_seconds(expires: timedelta | float) -> int:
    """``expires`` as the whole seconds a presigned URL lives: 1 s to 7 days."""
    seconds = _seconds(expires, "expires")
    if not seconds.is_integer() or not 1 <= seconds <= MAX_EXPIRES:
        raise ValueError(
            f"a presigned URL lives whole seconds from 1 to {MAX_EXPIRES} (7 days), not {seconds:g}"
        )
    return int(seconds)


class KeyRequests(BaseClient):
    """The admin API's requests and answers, and presigned URLs."""

    # -- the admin API -----------------------------------------------------------------------

    @staticmethod
    def _key_path(key_id: str, action: str = "") -> str:
        path = f"/v1/keys/{quote(key_id, safe='')}"
        return f"{path}/{action}" if action else path

    def _create_key_options(
        self,
        grants: Sequence[str | Grant],
        *,
        name: str,
        expires_at: datetime | None,
        expires_in: timedelta | float | None,
        rate_limit: float | None,
    ) -> RequestOptions:
        if isinstance(grants, str | Grant):
            # One grant given bare would otherwise be read character by character.
            grants = [grants]
        body = CreateKey(
            name=name,
            grants=[_grant(g) for g in grants],
            expires_at=expiry_of(expires_at, expires_in, now=datetime.now(UTC)),
            rate_limit=rate_limit,
        )
        return RequestOptions(
            "POST",
            self._url("/v1/keys", write=True),
            json_data=body.model_dump(mode="json", exclude_none=True),
            # Each try would make another key.
            retryable=False,
        )

    def _list_keys_options(self) -> RequestOptions:
        return RequestOptions("GET", self._url("/v1/keys", write=True))

    def _get_key_options(self, key_id: str) -> RequestOptions:
        return RequestOptions("GET", self._url(self._key_path(key_id), write=True))

    def _revoke_key_options(self, key_id: str) -> RequestOptions:
        # Revoking twice leaves the key as once, so a retry is safe.
        return RequestOptions("POST", self._url(self._key_path(key_id, "revoke"), write=True))

    def _rotate_key_options(self, key_id: str) -> RequestOptions:
        return RequestOptions(
            "POST",
            self._url(self._key_path(key_id, "rotate"), write=True),
            # A second rotation would discard the secret the first one answered with.
            retryable=False,
        )

    @staticmethod
    def _parse_key(response: httpx.Response) -> KeyView:
        return KeyView.model_validate_json(response.content)

    @staticmethod
    def _parse_new_key(response: httpx.Response) -> NewKeyView:
        return NewKeyView.model_validate_json(response.content)

    @staticmethod
    def _parse_keys(response: httpx.Response) -> list[KeyView]:
        return _KEY_LIST_ADAPTER.validate_json(response.content)

    # -- presigned URLs ----------------------------------------------------------------------

    def presign_get(
        self,
        bucket: str,
        key: str,
        *,
        expires: timedelta | float = DEFAULT_PRESIGN_EXPIRES,
        version: str | None = None,
        region: str | None = None,
    ) -> str:
        """A URL anyone may ``GET`` the object's content with, until ``expires`` (1 s to 7
        days) has passed, with the grants of the client's key. Makes no request.

        :param region: the region the service signs in (``SANGRAHA_REGION``, else
            ``us-east-1``).
        """
        url = self._url(self._object_path(bucket, key))
        if version is not None:
            url += "?version=" + quote(version, safe="")
        return self._presign("GET", url, expires, region)

    def presign_put(
        self,
        bucket: str,
        key: str,
        *,
        expires: timedelta | float = DEFAULT_PRESIGN_EXPIRES,
        region: str | None = None,
    ) -> str:
        """A URL anyone may ``PUT`` one upload of ``key`` to (with its own
        ``Content-Type``), until ``expires`` has passed. Makes no request."""
        url = self._url(self._object_path(bucket, key), write=True)
        return self._presign("PUT", url, expires, region)

    def _presign(
        self, method: str, url: str, expires: timedelta | float, region: str | None
    ) -> str:
        seconds = presign_seconds(expires)
        if not self.api_key or not looks_like_bearer(self.api_key):
            raise ValueError(
                "a presigned URL is signed with an access key: the client's api_key must be "
                "a key's bearer token ('<key_id>.<secret>', from create_key or "
                "'sangraha keys create')"
            )
        key_id, secret = split_bearer(self.api_key.strip())
        return presign(
            method,
            url,
            key_id=key_id,
            secret=secret,
            region=region or os.environ.get(ENV_REGION) or DEFAULT_REGION,
            expires=seconds,
            now=datetime.now(UTC),
        )
