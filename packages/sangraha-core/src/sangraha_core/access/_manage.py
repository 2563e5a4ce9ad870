"""Making and managing keys: create, list, revoke, rotate, each on behalf of a principal.

No key can make or manage a key stronger than itself: every grant of the key managed must
lie within the manager's own grants and under one of its ``admin`` grants. The server's
operator token and a key made from the command line against the store itself (the first
admin key) may manage all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .._exceptions import AccessDeniedError, AccessKeyNotFoundError, InvalidRequestError
from .._models import utcnow
from ._grants import Grant, Principal
from ._keys import AccessKey, NewKey, new_key_id, new_secret
from ._seal import MasterKey
from ._store import AccessKeys

__all__ = ["KeyAdmin"]

MAX_NAME_LENGTH = 200
MAX_GRANTS = 100


class KeyAdmin:
    """The key operations of the admin API, the SDK and ``sangraha keys``."""

    def __init__(self, store: AccessKeys, master: MasterKey) -> None:
        self._store = store
        self._master = master

    def create(
        self,
        by: Principal,
        *,
        grants: Sequence[Grant],
        name: str = "",
        expires_at: datetime | None = None,
        rate_limit: float | None = None,
    ) -> NewKey:
        if not grants:
            raise InvalidRequestError("a key needs at least one grant")
        if len(grants) > MAX_GRANTS:
            raise InvalidRequestError(f"a key holds at most {MAX_GRANTS} grants")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidRequestError(f"a key's name is at most {MAX_NAME_LENGTH} characters")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidRequestError("the expiry needs a time zone (UTC: '...Z')")
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidRequestError("the expiry is in the past")
        if rate_limit is not None and rate_limit <= 0:
            raise InvalidRequestError("a rate limit is a positive number of requests a second")
        self._check(by, grants)
        key_id, secret = new_key_id(), new_secret()
        key = AccessKey(
            key_id=key_id,
            name=name,
            grants=tuple(grants),
            expires_at=expires_at,
            rate_limit=rate_limit,
            sealed_secret=self._master.seal(key_id, secret),
        )
        self._store.create_access_key(key)
        return NewKey(key=key, secret=secret)

    def list(self, by: Principal) -> list[AccessKey]:
        """The keys ``by`` may manage, oldest first."""
        return [k for k in self._store.list_access_keys() if by.may_manage(k.grants)]

    def get(self, by: Principal, key_id: str) -> AccessKey:
        key = self._store.get_access_key(key_id)
        if not by.may_manage(key.grants):
            # As if it did not exist: a bucket's admin learns nothing of other keys.
            raise AccessKeyNotFoundError(f"no access key {key_id} that you may manage")
        return key

    def revoke(self, by: Principal, key_id: str) -> AccessKey:
        """Revoke for good (idempotent); every service refuses the key within its refresh."""
        key = self.get(by, key_id)
        if key.revoked_at is not None:
            return key
        return self._store.revoke_access_key(key_id, utcnow())

    def rotate(self, by: Principal, key_id: str) -> NewKey:
        """A new secret for the key; the old one stops working within the refresh."""
        key = self.get(by, key_id)
        if key.revoked_at is not None:
            raise InvalidRequestError(f"access key {key_id} is revoked; make a new one")
        secret = new_secret()
        rotated = self._store.rotate_access_key(key_id, self._master.seal(key_id, secret))
        return NewKey(key=rotated, secret=secret)

    @staticmethod
    def _check(by: Principal, grants: Sequence[Grant]) -> None:
        if not by.may_manage(grants):
            wanted = ", ".join(str(g) for g in grants)
            raise AccessDeniedError(
                f"key {by.key_id} may not make a key with grants {wanted}: it needs 'admin' "
                f"on those buckets and every action it would grant"
            )
