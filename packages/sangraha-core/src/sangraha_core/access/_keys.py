"""Access keys: an id, a secret, grants, and a life (expiry, revocation, last use).

The id is public (it travels in every SigV4 ``Credential``); the secret is shown once, when
the key is made or rotated, and kept only sealed (see ``_seal``). A key's bearer form, for
the v1 API and the SDK, is ``<id>.<secret>``.
"""

from __future__ import annotations

import enum
import re
import secrets
import string
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from .._exceptions import UnauthenticatedError
from .._models import utcnow
from ._grants import Grant, Principal

__all__ = [
    "AccessKey",
    "KeyStatus",
    "NewKey",
    "bearer_token",
    "looks_like_bearer",
    "new_key_id",
    "new_secret",
    "split_bearer",
]

# AWS's shape: 20 upper-case characters, so S3 tools accept the id as they are.
_KEY_ID_PREFIX = "SK"
_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"
_KEY_ID_LENGTH = 20
# 40 characters, as AWS secrets are; URL-safe base64 has no '.', which splits the bearer form.
_SECRET_BYTES = 30


def new_key_id() -> str:
    body = "".join(
        secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH - len(_KEY_ID_PREFIX))
    )
    return _KEY_ID_PREFIX + body


def new_secret() -> str:
    return secrets.token_urlsafe(_SECRET_BYTES)


def bearer_token(key_id: str, secret: str) -> str:
    return f"{key_id}.{secret}"


_BEARER_RE = re.compile(r"SK[A-Z2-7]{18}\.[A-Za-z0-9_-]{40}")


def looks_like_bearer(token: str) -> bool:
    """Whether ``token`` has the shape of a key's bearer token."""
    return _BEARER_RE.fullmatch(token.strip()) is not None


def split_bearer(token: str) -> tuple[str, str]:
    """``(id, secret)`` of a bearer token; :class:`UnauthenticatedError` if it is not one."""
    key_id, sep, secret = token.partition(".")
    if not sep or not key_id or not secret:
        raise UnauthenticatedError("the bearer token is not an access key ('<id>.<secret>')")
    return key_id, secret


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class AccessKey(BaseModel):
    """A key as the metadata store keeps it. ``sealed_secret`` never leaves the server."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    name: str = ""
    grants: tuple[Grant, ...]
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    #: Requests a second this key may make; ``None`` takes the server's default.
    rate_limit: float | None = None
    sealed_secret: str = Field(exclude=True, repr=False)

    def status(self, now: datetime | None = None) -> KeyStatus:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE

    def principal(self, *, presigned: bool = False) -> Principal:
        return Principal(
            key_id=self.key_id,
            grants=self.grants,
            presigned=presigned,
            rate_limit=self.rate_limit,
        )


class NewKey(BaseModel):
    """A key just made or rotated, with its secret: the one time the secret is shown."""

    key: AccessKey
    secret: str

    @property
    def bearer(self) -> str:
        return bearer_token(self.key.key_id, self.secret)
