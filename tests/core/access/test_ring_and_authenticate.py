"""The key ring's refresh rule and the authenticator's bearer checks, on a store in memory."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sangraha_core import AccessKeyNotFoundError, UnauthenticatedError, utcnow
from sangraha_core.access import (
    OPERATOR,
    AccessKey,
    Authenticator,
    Grant,
    KeyAdmin,
    KeyRing,
    MasterKey,
    NeedsRead,
    SignedRequest,
)
from sangraha_core.testing import AccessKeysConformance


class MemoryKeys:
    """The ``AccessKeys`` contract in a dict, counting reads."""

    def __init__(self) -> None:
        self.keys: dict[str, AccessKey] = {}
        self.reads = 0
        self.touches: list[str] = []

    def create_access_key(self, key: AccessKey) -> None:
        self.keys[key.key_id] = key

    def get_access_key(self, key_id: str) -> AccessKey:
        self.reads += 1
        try:
            return self.keys[key_id]
        except KeyError:
            raise AccessKeyNotFoundError(key_id) from None

    def list_access_keys(self) -> list[AccessKey]:
        return sorted(self.keys.values(), key=lambda k: k.created_at)

    def revoke_access_key(self, key_id: str, at: datetime) -> AccessKey:
        key = self.get_access_key(key_id)
        self.keys[key_id] = key.model_copy(update={"revoked_at": key.revoked_at or at})
        return self.keys[key_id]

    def rotate_access_key(self, key_id: str, sealed_secret: str) -> AccessKey:
        self.keys[key_id] = self.keys[key_id].model_copy(update={"sealed_secret": sealed_secret})
        return self.keys[key_id]

    def touch_access_key(self, key_id: str, at: datetime) -> None:
        self.touches.append(key_id)
        key = self.keys.get(key_id)
        if key is not None and (key.last_used_at is None or key.last_used_at < at):
            self.keys[key_id] = key.model_copy(update={"last_used_at": at})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> MemoryKeys:
    return MemoryKeys()


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.generate()[0]


def bearer(token: str) -> SignedRequest:
    return SignedRequest(
        method="GET",
        path="/v1/buckets/docs/objects/a",
        query="",
        headers=[("host", "127.0.0.1"), ("authorization", f"Bearer {token}")],
    )


def test_a_revocation_is_seen_once_the_refresh_has_passed(
    store: MemoryKeys, master: MasterKey
) -> None:
    clock = Clock()
    ring = KeyRing(store, master, refresh=2.0, clock=clock)
    admin = KeyAdmin(store, master)
    new = admin.create(OPERATOR, grants=[Grant.parse("docs:read")])
    auth = Authenticator()
    request = bearer(new.bearer)
    with pytest.raises(NeedsRead):
        auth.authenticate(request, ring.peek)
    assert auth.authenticate(request, ring.lookup).principal.key_id == new.key.key_id
    assert auth.authenticate(request, ring.peek).principal.key_id == new.key.key_id
    admin.revoke(OPERATOR, new.key.key_id)
    reads = store.reads
    clock.now += 1.9
    auth.authenticate(request, ring.lookup)  # still trusted: read less than 2 s ago
    assert store.reads == reads
    clock.now += 0.2
    with pytest.raises(UnauthenticatedError, match="revoked"):
        auth.authenticate(request, ring.lookup)


def test_unknown_ids_are_remembered_for_the_refresh_too(
    store: MemoryKeys, master: MasterKey
) -> None:
    clock = Clock()
    ring = KeyRing(store, master, refresh=2.0, clock=clock)
    auth = Authenticator()
    for _ in range(50):
        with pytest.raises(UnauthenticatedError, match="no access key"):
            auth.authenticate(bearer("SKNOSUCHKEY.secret"), ring.lookup)
    assert store.reads == 1


def test_a_rotated_secret_replaces_the_old_one(store: MemoryKeys, master: MasterKey) -> None:
    clock = Clock()
    ring = KeyRing(store, master, refresh=2.0, clock=clock)
    admin = KeyAdmin(store, master)
    old = admin.create(OPERATOR, grants=[Grant.parse("docs:read")])
    new = admin.rotate(OPERATOR, old.key.key_id)
    assert new.key.key_id == old.key.key_id and new.secret != old.secret
    auth = Authenticator()
    auth.authenticate(bearer(new.bearer), ring.lookup)
    with pytest.raises(UnauthenticatedError, match="wrong secret"):
        auth.authenticate(bearer(old.bearer), ring.lookup)


def test_an_expired_key_and_a_malformed_token_prove_nothing(
    store: MemoryKeys, master: MasterKey
) -> None:
    ring = KeyRing(store, master)
    admin = KeyAdmin(store, master)
    new = admin.create(
        OPERATOR, grants=[Grant.parse("docs:read")], expires_at=utcnow() + timedelta(hours=1)
    )
    expired = new.key.model_copy(update={"expires_at": utcnow() - timedelta(seconds=1)})
    store.keys[new.key.key_id] = expired
    auth = Authenticator()
    with pytest.raises(UnauthenticatedError, match="expired"):
        auth.authenticate(bearer(new.bearer), ring.lookup)
    for token in ("garbage", "", "a.b.c"):
        with pytest.raises(UnauthenticatedError):
            auth.authenticate(bearer(token), ring.lookup)
    no_credentials = SignedRequest(method="GET", path="/", query="", headers=[("host", "h")])
    with pytest.raises(UnauthenticatedError, match="needs an access key"):
        auth.authenticate(no_credentials, ring.lookup)


def test_a_secret_sealed_under_another_master_key_is_a_401_and_a_log_line(
    store: MemoryKeys, master: MasterKey, caplog: pytest.LogCaptureFixture
) -> None:
    new = KeyAdmin(store, master).create(OPERATOR, grants=[Grant.parse("docs:read")])
    elsewhere = KeyRing(store, MasterKey.generate()[0])
    with pytest.raises(UnauthenticatedError, match="master key"):
        Authenticator().authenticate(bearer(new.bearer), elsewhere.lookup)
    assert "another master key" in caplog.text and new.secret not in caplog.text


def test_the_operator_token_may_do_anything(store: MemoryKeys, master: MasterKey) -> None:
    auth = Authenticator(operator_token="operator-secret")
    principal = auth.authenticate(bearer("operator-secret"), KeyRing(store, master).lookup)
    assert principal.principal.unrestricted
    with pytest.raises(UnauthenticatedError):
        auth.authenticate(bearer("operator-secreT"), KeyRing(store, master).lookup)


def test_a_use_is_recorded_at_most_once_a_minute(store: MemoryKeys, master: MasterKey) -> None:
    clock = Clock()
    ring = KeyRing(store, master, refresh=2.0, clock=clock)
    new = KeyAdmin(store, master).create(OPERATOR, grants=[Grant.parse("docs:read")])
    auth = Authenticator()
    for _ in range(10):
        auth.authenticate(bearer(new.bearer), ring.lookup)
        clock.now += 2.5
    assert store.touches == [new.key.key_id]  # one write, not ten
    assert store.keys[new.key.key_id].last_used_at is not None


def test_key_admin_refuses_what_the_manager_may_not_grant(
    store: MemoryKeys, master: MasterKey
) -> None:
    from sangraha_core import AccessDeniedError, InvalidRequestError

    admin = KeyAdmin(store, master)
    team = admin.create(OPERATOR, grants=[Grant.parse("team-*:read,write,admin")])
    team_principal = team.key.principal()
    made = admin.create(team_principal, grants=[Grant.parse("team-a:read")])
    with pytest.raises(AccessDeniedError, match="may not make a key"):
        admin.create(team_principal, grants=[Grant.parse("*:read")])
    outsider = admin.create(OPERATOR, grants=[Grant.parse("other:read")])
    assert {k.key_id for k in admin.list(team_principal)} == {team.key.key_id, made.key.key_id}
    with pytest.raises(AccessKeyNotFoundError):
        admin.revoke(team_principal, outsider.key.key_id)
    with pytest.raises(InvalidRequestError, match="at least one grant"):
        admin.create(OPERATOR, grants=[])
    with pytest.raises(InvalidRequestError, match="past"):
        admin.create(OPERATOR, grants=[Grant.parse("a:read")], expires_at=utcnow() - timedelta(1))


class TestMemoryKeys(AccessKeysConformance):
    """The double the tests above use keeps the contract too, or they would prove nothing."""

    @pytest.fixture
    def keys(self) -> MemoryKeys:
        return MemoryKeys()
