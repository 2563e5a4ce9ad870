"""Upload sessions and their parts, one row per part number."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, literal, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import Select

from .._digest import Digest
from .._exceptions import InvalidRequestError, UploadNotFoundError
from .._models import PartRecord, UploadSession, UploadStatus, utcnow
from ._rows import part_values, session_from_row, successor
from ._schema import upload_parts, uploads
from ._sql_database import SqlDatabase

__all__ = ["SqlUploads"]


class SqlUploads(SqlDatabase):
    """The ``UploadSessions`` part of the store."""

    def create_upload(self, session: UploadSession) -> None:
        def create(conn: Connection) -> None:
            conn.execute(
                uploads.insert().values(
                    id=session.id,
                    bucket=session.bucket,
                    key=session.key,
                    content_type=session.content_type,
                    kind=session.kind.value,
                    size=session.size,
                    digest=None if session.digest is None else str(session.digest),
                    metadata=json.dumps(session.metadata),
                    status=session.status.value,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                    min_part_size=session.min_part_size,
                    max_part_size=session.max_part_size,
                    max_parts=session.max_parts,
                    object_id=session.object_id,
                    multipart_id=session.multipart_id,
                    type_from_bytes=session.type_from_bytes,
                    claimed_at=session.claimed_at,
                )
            )
            if session.parts:
                conn.execute(
                    upload_parts.insert(),
                    [part_values(session.id, part) for part in session.parts],
                )

        try:
            self._run(create)
        except IntegrityError as exc:
            raise InvalidRequestError(
                f"an upload session with id {session.id!r} already exists"
            ) from exc

    def _load_uploads(self, conn: Connection, stmt: Select[Any]) -> list[UploadSession]:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        parts: dict[str, list[PartRecord]] = {row.id: [] for row in rows}
        for part in conn.execute(
            select(upload_parts)
            .where(upload_parts.c.upload_id.in_(list(parts)))
            .order_by(upload_parts.c.upload_id, upload_parts.c.number)
        ):
            parts[part.upload_id].append(
                PartRecord(
                    number=part.number,
                    size=part.size,
                    etag=part.etag,
                    digest=Digest(part.digest),
                    md5=part.md5,
                )
            )
        return [session_from_row(row, parts[row.id]) for row in rows]

    def get_upload(self, upload_id: str) -> UploadSession:
        found = self._run(
            lambda conn: self._load_uploads(conn, select(uploads).where(uploads.c.id == upload_id)),
            write=False,
        )
        if not found:
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}")
        return found[0]

    def put_part(self, upload_id: str, part: PartRecord) -> None:
        values = part_values(upload_id, part)
        stmt = (
            self._insert(upload_parts)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["upload_id", "number"],
                set_={name: values[name] for name in ("size", "etag", "digest", "md5")},
            )
        )
        try:
            self._run(lambda conn: conn.execute(stmt))
        except IntegrityError as exc:  # the session's row is gone (foreign key)
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}") from exc

    def finish_upload(self, upload_id: str, *, status: str, object_id: str | None) -> None:
        try:
            new_status = UploadStatus(status)
        except ValueError:
            raise InvalidRequestError(f"unknown upload status {status!r}") from None
        if new_status is UploadStatus.OPEN:
            raise InvalidRequestError("finish_upload needs 'completed' or 'aborted'")
        result = self._run(
            lambda conn: conn.execute(
                update(uploads)
                .where(uploads.c.id == upload_id)
                .values(status=new_status.value, object_id=object_id)
            )
        )
        if not result.rowcount:
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}")

    def claim_upload(self, upload_id: str, *, stale_before: datetime) -> bool:
        now = utcnow()

        def claim(conn: Connection) -> bool:
            # One statement: of two claims at once, the row lock lets one match and the
            # other then finds the session no longer open.
            taken = conn.execute(
                update(uploads)
                .where(
                    uploads.c.id == upload_id,
                    or_(
                        uploads.c.status == UploadStatus.OPEN.value,
                        and_(
                            uploads.c.status == UploadStatus.COMPLETING.value,
                            or_(
                                uploads.c.claimed_at.is_(None),
                                uploads.c.claimed_at < stale_before,
                            ),
                        ),
                    ),
                )
                .values(status=UploadStatus.COMPLETING.value, claimed_at=now)
            )
            if taken.rowcount:
                return True
            if conn.execute(select(uploads.c.id).where(uploads.c.id == upload_id)).first():
                return False
            raise UploadNotFoundError(f"no upload session with id {upload_id!r}")

        return self._run(claim)

    def release_upload(self, upload_id: str) -> None:
        self._run(
            lambda conn: conn.execute(
                update(uploads)
                .where(
                    uploads.c.id == upload_id,
                    uploads.c.status == UploadStatus.COMPLETING.value,
                )
                .values(status=UploadStatus.OPEN.value, claimed_at=None)
            )
        )

    def expired_uploads(self, now: datetime, *, limit: int = 100) -> list[UploadSession]:
        """Sessions of any status whose ``expires_at`` is at or before ``now``, soonest
        expired first: open ones are to be aborted, and all of them deleted."""
        stmt = (
            select(uploads)
            .where(uploads.c.expires_at <= now)
            .order_by(uploads.c.expires_at, uploads.c.id)
            .limit(limit)
        )
        return self._run(lambda conn: self._load_uploads(conn, stmt), write=False)

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 1000,
    ) -> list[UploadSession]:
        """Open sessions of ``bucket`` in (key, id) order, strictly after ``after``, without
        their parts."""
        conds = [uploads.c.bucket == bucket, uploads.c.status == UploadStatus.OPEN.value]
        if prefix:
            # A key range, as listings take a prefix: no LIKE wildcards to escape.
            conds.append(uploads.c.key >= prefix)
            upper = successor(prefix)
            if upper is not None:
                conds.append(uploads.c.key < upper)
        if after is not None:
            conds.append(
                tuple_(uploads.c.key, uploads.c.id) > tuple_(literal(after[0]), literal(after[1]))
            )
        stmt = (
            select(uploads).where(*conds).order_by(uploads.c.key, uploads.c.id).limit(max(limit, 0))
        )
        rows = self._run(lambda conn: conn.execute(stmt).all(), write=False)
        return [session_from_row(row, ()) for row in rows]

    def delete_upload(self, upload_id: str) -> None:
        """Delete a session and its parts; deleting an unknown session does nothing."""
        self._run(lambda conn: conn.execute(delete(uploads).where(uploads.c.id == upload_id)))
