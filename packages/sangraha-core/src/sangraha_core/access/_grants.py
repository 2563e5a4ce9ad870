"""What a key may do: actions granted on buckets, and the principal a request acts as.

A grant names buckets by a pattern: one bucket name, a prefix ending in ``*``
(``photos-*``), or ``*`` for every bucket. A key holds any number of grants; a request is
allowed when one of them covers both the action and the bucket.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from .._exceptions import AccessDeniedError, InvalidRequestError

__all__ = ["ANYONE", "Action", "Grant", "Principal", "pattern_covers", "validate_pattern"]


class Action(enum.StrEnum):
    """One thing a grant allows.

    ``admin`` on a bucket pattern is the right to manage keys whose grants lie within that
    pattern; ``admin`` on ``*`` is the right to manage every key.
    """

    READ = "read"
    LIST = "list"
    WRITE = "write"
    DELETE = "delete"
    ADMIN = "admin"


# Bucket names are validated elsewhere (``validate_bucket``); a pattern allows their
# characters and one trailing ``*``.
_PATTERN_RE = re.compile(r"\*|[a-z0-9][a-z0-9.\-]{0,62}\*?")


def validate_pattern(pattern: str) -> str:
    """``pattern`` if it is a bucket name, a prefix followed by ``*``, or ``*``."""
    if not _PATTERN_RE.fullmatch(pattern):
        raise InvalidRequestError(
            f"bucket pattern {pattern!r} must be a bucket name, a prefix ending in '*', or '*'"
        )
    return pattern


def _matches(pattern: str, bucket: str) -> bool:
    if pattern.endswith("*"):
        return bucket.startswith(pattern[:-1])
    return bucket == pattern


def pattern_covers(outer: str, inner: str) -> bool:
    """Whether every bucket ``inner`` names is also named by ``outer``."""
    if outer.endswith("*"):
        return inner.startswith(outer[:-1])
    return not inner.endswith("*") and inner == outer


class Grant(BaseModel):
    """Actions allowed on the buckets a pattern names."""

    model_config = ConfigDict(frozen=True)

    buckets: Annotated[str, AfterValidator(validate_pattern)]
    actions: frozenset[Action]

    def allows(self, action: Action, bucket: str) -> bool:
        return action in self.actions and _matches(self.buckets, bucket)

    def within(self, grants: Iterable[Grant]) -> bool:
        """Whether ``grants`` together allow every action of this grant on all its buckets."""
        return all(
            any(action in g.actions and pattern_covers(g.buckets, self.buckets) for g in grants)
            for action in self.actions
        )

    def __str__(self) -> str:
        return f"{self.buckets}:{','.join(sorted(self.actions))}"

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``BUCKETS:ACTION[,ACTION…]``, as the CLI takes it: ``photos-*:read,list``."""
        buckets, sep, actions = text.partition(":")
        if not sep or not actions:
            raise InvalidRequestError(f"grant {text!r} must look like 'BUCKETS:read,list'")
        try:
            chosen = frozenset(Action(a.strip()) for a in actions.split(","))
        except ValueError:
            names = ", ".join(a.value for a in Action)
            raise InvalidRequestError(f"grant {text!r}: actions are {names}") from None
        return cls(buckets=buckets.strip(), actions=chosen)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key's id and grants.

    :param presigned: the request carries a presigned URL's signature, which allows only
        the one method and object it was made for, with its key's grants.
    """

    key_id: str | None
    grants: tuple[Grant, ...]
    presigned: bool = False
    #: Set for the server's own operator credential and when access control is off.
    unrestricted: bool = field(default=False)
    #: Requests a second this key may make; ``None`` takes the server's default.
    rate_limit: float | None = None

    def allows(self, action: Action, bucket: str) -> bool:
        return self.unrestricted or any(g.allows(action, bucket) for g in self.grants)

    def require(self, action: Action, bucket: str) -> None:
        """Raise :class:`AccessDeniedError` naming the missing grant."""
        if not self.allows(action, bucket):
            raise AccessDeniedError(
                f"key {self.key_id} has no {action.value!r} grant on bucket {bucket!r}"
            )

    def may_manage(self, grants: Iterable[Grant]) -> bool:
        """Whether this principal may create or manage a key holding ``grants``: it must be
        an admin of every bucket they name and hold each action itself, so no key can make
        a key stronger than itself."""
        if self.unrestricted:
            return True
        admin = [g for g in self.grants if Action.ADMIN in g.actions]
        return all(
            g.within(self.grants) and any(pattern_covers(a.buckets, g.buckets) for a in admin)
            for g in grants
        )

    @property
    def is_admin(self) -> bool:
        return self.unrestricted or any(Action.ADMIN in g.actions for g in self.grants)


#: The principal of every request when access control is off.
ANYONE = Principal(key_id=None, grants=(), unrestricted=True)
