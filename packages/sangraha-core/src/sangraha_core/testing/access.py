"""The suite every ``AccessKeys`` store passes (the table of keys access control reads).

::

    from sangraha_core.testing import AccessKeysConformance

    class TestMyKeys(AccessKeysConformance):
        @pytest.fixture
        def keys(self) -> Iterator[AccessKeys]:
            ...  # an empty store of keys
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sangraha_core import AccessKeyNotFoundError, utcnow
from sangraha_core.access import AccessKey, AccessKeys, Grant, new_key_id

__all__ = ["AccessKeysConformance", "make_key"]


def make_key(**fields: object) -> AccessKey:
    values: dict[str, object] = {
        "key_id": new_key_id(),
        "name": "a key",
        "grants": (Grant.parse("docs:read,list"), Grant.parse("team-*:write")),
        "sealed_secret": "v1.sealed",
    }
    values.update(fields)
    return AccessKey.model_validate(values)


class AccessKeysConformance:
    """Subclass with a ``keys`` fixture: an empty :class:`~sangraha_core.access.AccessKeys`."""

    def test_a_key_reads_back_as_it_was_stored(self, keys: AccessKeys) -> None:
        key = make_key(expires_at=utcnow() + timedelta(days=1), rate_limit=2.5, name="ünïcode")
        keys.create_access_key(key)
        found = keys.get_access_key(key.key_id)
        assert found == key
        assert found.sealed_secret == key.sealed_secret
        assert set(found.grants) == set(key.grants)

    def test_an_unknown_key_is_not_found(self, keys: AccessKeys) -> None:
        with pytest.raises(AccessKeyNotFoundError):
            keys.get_access_key("SKNOSUCHKEYATALL234")
        with pytest.raises(AccessKeyNotFoundError):
            keys.revoke_access_key("SKNOSUCHKEYATALL234", utcnow())
        keys.touch_access_key("SKNOSUCHKEYATALL234", utcnow())  # no error

    def test_keys_list_oldest_first_revoked_ones_too(self, keys: AccessKeys) -> None:
        now = utcnow()
        made = [make_key(created_at=now + timedelta(seconds=i)) for i in (2, 0, 1)]
        for key in made:
            keys.create_access_key(key)
        keys.revoke_access_key(made[0].key_id, now)
        listed = keys.list_access_keys()
        assert [k.key_id for k in listed] == [made[1].key_id, made[2].key_id, made[0].key_id]
        assert listed[2].revoked_at is not None

    def test_a_revocation_keeps_its_first_time(self, keys: AccessKeys) -> None:
        key = make_key()
        keys.create_access_key(key)
        first = utcnow()
        assert keys.revoke_access_key(key.key_id, first).revoked_at == first
        again = keys.revoke_access_key(key.key_id, first + timedelta(minutes=5))
        assert again.revoked_at == first

    def test_a_rotation_replaces_only_the_sealed_secret(self, keys: AccessKeys) -> None:
        key = make_key()
        keys.create_access_key(key)
        rotated = keys.rotate_access_key(key.key_id, "v1.new-sealed")
        assert rotated.sealed_secret == "v1.new-sealed"
        assert rotated.model_copy(update={"sealed_secret": key.sealed_secret}) == key

    def test_last_use_never_moves_back(self, keys: AccessKeys) -> None:
        key = make_key()
        keys.create_access_key(key)
        later = utcnow() + timedelta(minutes=1)
        keys.touch_access_key(key.key_id, later)
        keys.touch_access_key(key.key_id, later - timedelta(minutes=5))
        assert keys.get_access_key(key.key_id).last_used_at == later
