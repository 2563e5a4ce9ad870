"""``SqlMetadataStore``: the metadata store on SQLite (embedded) and PostgreSQL (production).

The store is its aggregates over one database, one module each, like its tables:

- ``_sql_database``: the engine, SQLite's settings, the transaction runner, the schema;
- ``_sql_objects``: object records, their metadata rows and the blob references they hold
  (with ``_sql_queries``, the statements that find them);
- ``_sql_blobs``: blob reference counts and garbage collection;
- ``_sql_idempotency``: idempotency keys;
- ``_sql_uploads``: upload sessions and their parts;
- ``_sql_keys``: access keys (``sangraha_core.access.AccessKeys``);
- ``_sql_buckets``: buckets and their kind policies.

Each aggregate is a subclass of ``SqlDatabase`` that adds methods only; another one is a
module of its own and one more base below.
"""

from __future__ import annotations

from ._sql_blobs import SqlBlobs
from ._sql_buckets import SqlBuckets
from ._sql_idempotency import SqlIdempotencyKeys
from ._sql_keys import SqlAccessKeys
from ._sql_objects import SqlObjects
from ._sql_stats import SqlStats
from ._sql_uploads import SqlUploads

__all__ = ["SqlMetadataStore"]


class SqlMetadataStore(
    SqlObjects,
    SqlBlobs,
    SqlStats,
    SqlIdempotencyKeys,
    SqlUploads,
    SqlAccessKeys,
    SqlBuckets,
):
    """The :class:`~sangraha_core.metadata.MetadataStore` on SQLite or PostgreSQL, with
    the capabilities :class:`~sangraha_core.metadata.CreatesMany` and
    :class:`~sangraha_core.metadata.WatchesKeys`.

    Open one with ``SqlMetadataStore.from_url(url)``, or over an engine of your own with
    ``SqlMetadataStore(engine)``.
    """
