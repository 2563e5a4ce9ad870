"""Grants, principals, key admin rules, sealed secrets and abuse limits, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sangraha_core import (
    AccessDeniedError,
    InvalidRequestError,
    MasterKeyError,
    UnauthenticatedError,
)
from sangraha_core.access import (
    ANYONE,
    Action,
    FailureThrottle,
    Grant,
    MasterKey,
    Principal,
    RateLimiter,
    bearer_token,
    looks_like_bearer,
    new_key_id,
    new_secret,
    pattern_covers,
    split_bearer,
)


def grant(text: str) -> Grant:
    return Grant.parse(text)


def test_a_grant_names_one_bucket_a_prefix_or_all() -> None:
    assert grant("docs:read").allows(Action.READ, "docs")
    assert not grant("docs:read").allows(Action.READ, "docs2")
    assert grant("photo-*:read").allows(Action.READ, "photo-2026")
    assert not grant("photo-*:read").allows(Action.READ, "photos")
    assert grant("*:write").allows(Action.WRITE, "anything")
    assert not grant("*:write").allows(Action.DELETE, "anything")


@pytest.mark.parametrize("text", ["docs", "docs:", "Docs:read", "a*b:read", "docs:fly", "*x:read"])
def test_a_malformed_grant_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises((InvalidRequestError, ValueError)):
        grant(text)


@pytest.mark.parametrize(
    ("outer", "inner", "covers"),
    [
        ("*", "docs", True),
        ("*", "d*", True),
        ("d*", "docs", True),
        ("d*", "do*", True),
        ("do*", "d*", False),
        ("docs", "docs", True),
        ("docs", "docs*", False),
        ("docs", "*", False),
    ],
)
def test_pattern_cover(outer: str, inner: str, covers: bool) -> None:
    assert pattern_covers(outer, inner) is covers


def test_a_principal_names_the_grant_it_lacks() -> None:
    reader = Principal(key_id="SKREADER", grants=(grant("docs:read,list"),))
    reader.require(Action.READ, "docs")
    with pytest.raises(AccessDeniedError, match="no 'write' grant on bucket 'docs'"):
        reader.require(Action.WRITE, "docs")
    with pytest.raises(AccessDeniedError, match="bucket 'other'"):
        reader.require(Action.READ, "other")
    ANYONE.require(Action.ADMIN, "other")


def test_no_key_can_manage_a_key_stronger_than_itself() -> None:
    bucket_admin = Principal(key_id="SKA", grants=(grant("team-*:read,list,write,admin"),))
    assert bucket_admin.may_manage([grant("team-a:read")])
    assert bucket_admin.may_manage([grant("team-*:read,write")])
    assert not bucket_admin.may_manage([grant("team-a:delete")])  # an action it lacks
    assert not bucket_admin.may_manage([grant("other:read")])  # a bucket it does not admin
    assert not bucket_admin.may_manage([grant("*:read")])
    writer = Principal(key_id="SKW", grants=(grant("*:read,write"),))
    assert not writer.may_manage([grant("docs:read")])  # no admin grant at all


def test_key_ids_and_secrets_have_the_shape_s3_tools_expect() -> None:
    ids = {new_key_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 20 and i.isupper() and i.isalnum() for i in ids)
    secret = new_secret()
    assert len(secret) == 40 and "." not in secret
    assert split_bearer(bearer_token("SKX", secret)) == ("SKX", secret)
    assert looks_like_bearer(bearer_token(new_key_id(), secret))
    assert not looks_like_bearer("an operator token of my own")
    for token in ("", "SKX", "SKX.", ".secret"):
        with pytest.raises(UnauthenticatedError):
            split_bearer(token)


def test_a_sealed_secret_opens_only_under_its_master_key_and_its_key_id() -> None:
    master, text = MasterKey.generate()
    sealed = master.seal("SKONE", "the secret")
    assert "the secret" not in sealed
    assert MasterKey.from_text(text).open("SKONE", sealed) == "the secret"
    with pytest.raises(MasterKeyError, match="does not open"):
        master.open("SKTWO", sealed)  # a sealed value moved to another key's row
    other, _ = MasterKey.generate()
    with pytest.raises(MasterKeyError, match="another master key"):
        other.open("SKONE", sealed)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(MasterKeyError):
        master.open("SKONE", tampered)


def test_a_master_key_file_is_made_once_for_its_owner_alone(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = MasterKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert MasterKey.load_or_create(path).fingerprint == first.fingerprint
    path.write_text("not base64 !!")
    with pytest.raises(MasterKeyError, match="base64"):
        MasterKey.from_file(path)
    with pytest.raises(MasterKeyError, match="32 bytes"):
        MasterKey(b"short")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_over_its_rate_waits_for_its_bucket_to_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    allowed = [limiter.take("SKA", 10) is None for _ in range(12)]
    assert allowed == [True] * 10 + [False] * 2  # a burst of one second's worth
    wait = limiter.take("SKA", 10)
    assert wait is not None and 0 < wait <= 0.1
    assert limiter.take("SKB", 10) is None  # keys count apart
    clock.now += 0.5
    assert sum(limiter.take("SKA", 10) is None for _ in range(10)) == 5
    assert limiter.take("SKA", 0) is None  # no limit


def test_an_address_that_keeps_failing_is_held_off_for_the_window() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.blocked("10.0.0.1") is None
        throttle.failed("10.0.0.1")
    wait = throttle.blocked("10.0.0.1")
    assert wait is not None and 0 < wait <= 60
    assert throttle.blocked("10.0.0.2") is None
    clock.now += 61
    assert throttle.blocked("10.0.0.1") is None
