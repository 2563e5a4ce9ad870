"""Blobs: one row per stored digest and its reference count, and collecting the blobs no
record references any more.

The references themselves are taken and dropped with the records (``_sql_objects``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from .._digest import Digest
from .._exceptions import BlobNotFoundError
from ._schema import blobs
from ._sql_database import SqlDatabase

__all__ = ["SqlBlobs"]


class SqlBlobs(SqlDatabase):
    """The ``BlobReferences`` part of the store."""

    def blob_refcount(self, digest: Digest) -> int:
        count = self._run(
            lambda conn: conn.execute(
                select(blobs.c.refcount).where(blobs.c.digest == str(digest))
            ).scalar(),
            write=False,
        )
        return int(count or 0)

    def collect_garbage(self, delete_blob: Callable[[Digest], None], *, limit: int = 100) -> int:
        """Collect unreferenced blobs one transaction each, so the lock that keeps a
        concurrent ``finalize_ready`` waiting is held for one ``delete_blob`` at a time."""

        def collect_one(conn: Connection) -> bool:
            digest = conn.execute(
                select(blobs.c.digest)
                .where(blobs.c.refcount == 0)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar()
            if digest is None:
                return False
            # Bytes already gone leave only the row to remove.
            with suppress(BlobNotFoundError):
                delete_blob(Digest(digest))
            conn.execute(delete(blobs).where(blobs.c.digest == digest, blobs.c.refcount == 0))
            return True

        collected = 0
        while collected < limit and self._run(collect_one):
            collected += 1
        return collected
