"""Idempotency keys: (scope, key) -> the fingerprint of the request that used it and the
object id it made."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .._exceptions import InvalidRequestError
from .._models import utcnow
from ._schema import idempotency_keys
from ._sql_database import SqlDatabase

__all__ = ["SqlIdempotencyKeys"]


class SqlIdempotencyKeys(SqlDatabase):
    """The ``IdempotencyKeys`` part of the store."""

    def remember_idempotency_key(
        self, scope: str, key: str, fingerprint: str, object_id: str
    ) -> str:
        def remember(conn: Connection) -> tuple[str, str]:
            conn.execute(
                self._insert(idempotency_keys)
                .values(
                    scope=scope,
                    key=key,
                    fingerprint=fingerprint,
                    object_id=object_id,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["scope", "key"])
            )
            row = conn.execute(
                select(idempotency_keys.c.fingerprint, idempotency_keys.c.object_id).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            ).one()
            return row.fingerprint, row.object_id

        stored_fingerprint, stored_id = self._run(remember)
        if stored_fingerprint != fingerprint:
            raise InvalidRequestError(
                f"idempotency key {key!r} was already used for a different request"
            )
        return stored_id

    def lookup_idempotency_key(self, scope: str, key: str) -> tuple[str, str] | None:
        row = self._run(
            lambda conn: conn.execute(
                select(idempotency_keys.c.fingerprint, idempotency_keys.c.object_id).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            ).first(),
            write=False,
        )
        return None if row is None else (row.fingerprint, row.object_id)
