"""The access keys aggregate: one row a key, its grants as JSON, its secret sealed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.engine import Connection

from .._exceptions import AccessKeyNotFoundError
from ..access import AccessKey, Grant
from ._schema import access_keys
from ._sql_database import SqlDatabase

__all__ = ["SqlAccessKeys"]


def _key_from_row(row: Row[Any]) -> AccessKey:
    return AccessKey(
        key_id=row.key_id,
        name=row.name,
        grants=tuple(Grant.model_validate(g) for g in json.loads(row.grants)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        rate_limit=row.rate_limit,
        sealed_secret=row.sealed_secret,
    )


def _grants_json(key: AccessKey) -> str:
    return json.dumps([g.model_dump(mode="json") for g in key.grants], sort_keys=True)


class SqlAccessKeys(SqlDatabase):
    """``AccessKeys`` (sangraha_core.access) on the ``access_keys`` table."""

    def create_access_key(self, key: AccessKey) -> None:
        self._run(
            lambda conn: conn.execute(
                access_keys.insert().values(
                    key_id=key.key_id,
                    name=key.name,
                    grants=_grants_json(key),
                    sealed_secret=key.sealed_secret,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                    revoked_at=key.revoked_at,
                    last_used_at=key.last_used_at,
                    rate_limit=key.rate_limit,
                )
            )
        )

    @staticmethod
    def _load_key(conn: Connection, key_id: str) -> AccessKey:
        row = conn.execute(select(access_keys).where(access_keys.c.key_id == key_id)).first()
        if row is None:
            raise AccessKeyNotFoundError(f"no access key {key_id}")
        return _key_from_row(row)

    def get_access_key(self, key_id: str) -> AccessKey:
        return self._run(lambda conn: self._load_key(conn, key_id), write=False, snapshot=False)

    def list_access_keys(self) -> list[AccessKey]:
        rows = self._run(
            lambda conn: conn.execute(
                select(access_keys).order_by(access_keys.c.created_at, access_keys.c.key_id)
            ).all(),
            write=False,
            snapshot=False,
        )
        return [_key_from_row(row) for row in rows]

    def _update(self, key_id: str, **values: Any) -> AccessKey:
        def change(conn: Connection) -> AccessKey:
            conn.execute(update(access_keys).where(access_keys.c.key_id == key_id).values(**values))
            return self._load_key(conn, key_id)

        return self._run(change)

    def revoke_access_key(self, key_id: str, at: datetime) -> AccessKey:
        # COALESCE keeps the first revocation's time when two admins revoke at once.
        return self._update(key_id, revoked_at=func.coalesce(access_keys.c.revoked_at, at))

    def rotate_access_key(self, key_id: str, sealed_secret: str) -> AccessKey:
        return self._update(key_id, sealed_secret=sealed_secret)

    def touch_access_key(self, key_id: str, at: datetime) -> None:
        self._run(
            lambda conn: conn.execute(
                update(access_keys)
                .where(
                    access_keys.c.key_id == key_id,
                    (access_keys.c.last_used_at.is_(None)) | (access_keys.c.last_used_at < at),
                )
                .values(last_used_at=at)
            )
        )
