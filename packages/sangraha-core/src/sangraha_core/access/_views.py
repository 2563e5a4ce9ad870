"""Access keys as the admin API speaks of them: what a request asks, what an answer shows.

Shared by the service and the SDK, so both read one shape.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ._grants import Grant
from ._keys import AccessKey, KeyStatus, NewKey

__all__ = ["CreateKey", "KeyView", "NewKeyView"]


class CreateKey(BaseModel):
    """What a new key may do, and for how long."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200, description="What the key is for.")
    grants: list[Grant] = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working, with its time zone."
    )
    rate_limit: float | None = Field(
        default=None, gt=0, description="Requests a second on each service process."
    )


class KeyView(BaseModel):
    """A key as the API shows it: never its secret."""

    key_id: str
    name: str
    grants: list[Grant]
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    rate_limit: float | None

    @classmethod
    def of(cls, key: AccessKey) -> KeyView:
        return cls(
            key_id=key.key_id,
            name=key.name,
            grants=list(key.grants),
            status=key.status(),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            rate_limit=key.rate_limit,
        )


class NewKeyView(KeyView):
    """A key just made or rotated: the only answer that carries its secret."""

    secret: str = Field(description="Shown once; keep it now.")
    bearer: str = Field(description="`<key_id>.<secret>`, for `Authorization: Bearer`.")

    @classmethod
    def of_new(cls, new: NewKey) -> NewKeyView:
        return cls(**KeyView.of(new.key).model_dump(), secret=new.secret, bearer=new.bearer)
