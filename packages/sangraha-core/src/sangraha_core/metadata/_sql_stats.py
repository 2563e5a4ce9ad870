"""Store statistics: versions by status and the bytes they and their blobs take
(``Stats``).

Two aggregate queries in one read transaction, so the numbers are of one moment. They
read every row of ``objects`` and of the referenced ``blobs``: callers keep the answer a
while (``/metrics`` asks at most every few seconds) rather than asking per scrape.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .._models import ObjectStatus
from ._schema import blobs, objects
from ._sql_database import SqlDatabase
from ._stats import StoreStats

__all__ = ["SqlStats"]


class SqlStats(SqlDatabase):
    """The ``Stats`` capability of the store."""

    def stats(self) -> StoreStats:
        def count(conn: Connection) -> StoreStats:
            by_status = {
                str(status): (int(n), int(size or 0))
                for status, n, size in conn.execute(
                    select(objects.c.status, func.count(), func.sum(objects.c.size)).group_by(
                        objects.c.status
                    )
                )
            }
            stored = conn.execute(
                select(func.count(), func.sum(blobs.c.size)).where(blobs.c.refcount > 0)
            ).one()
            ready = by_status.get(ObjectStatus.READY, (0, 0))
            return StoreStats(
                ready=ready[0],
                pending=by_status.get(ObjectStatus.PENDING, (0, 0))[0],
                failed=by_status.get(ObjectStatus.FAILED, (0, 0))[0],
                ready_bytes=ready[1],
                blobs=int(stored[0]),
                blob_bytes=int(stored[1] or 0),
            )

        return self._run(count, write=False)
