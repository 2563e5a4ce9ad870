"""The first key of an installation, made against its metadata store with no server running.

``sangraha keys create --local`` calls :func:`create_key_locally`. Only the metadata store
is opened (no blob store, no broker), so it works before anything else is set up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sangraha_core import ConfigurationError, Settings, open_metadata_store
from sangraha_core.access import OPERATOR, AccessKeys, Grant, KeyAdmin, NewKey, master_key_of

__all__ = ["create_key_locally", "is_embedded_store"]


def is_embedded_store(settings: Settings) -> bool:
    """Whether the metadata store is the SQLite file inside ``data_dir``, as ``serve`` keeps it."""
    return settings.metadata_url == f"sqlite:///{settings.data_dir.resolve() / 'metadata.db'}"


def create_key_locally(
    settings: Settings,
    grants: Sequence[Grant],
    name: str = "",
    expires_at: datetime | None = None,
    *,
    rate_limit: float | None = None,
) -> NewKey:
    """Make a key in the store ``settings`` name, with any grants: the operator's own act.

    The master key comes from ``settings`` (``SANGRAHA_MASTER_KEY`` or
    ``SANGRAHA_MASTER_KEY_FILE``). For the store of a data directory it defaults to
    ``<data_dir>/master.key`` and is made there if missing, as ``sangraha serve`` would;
    for any other store it must exist already, so a deployment's services and its keys
    share one master key.
    """
    embedded = is_embedded_store(settings)
    if embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    master = master_key_of(settings, create=embedded)
    store = open_metadata_store(settings.metadata_url)
    try:
        if not isinstance(store, AccessKeys):
            raise ConfigurationError(
                f"{type(store).__name__} keeps no access keys, so it cannot back access control"
            )
        store.migrate()
        return KeyAdmin(store, master).create(
            OPERATOR, grants=grants, name=name, expires_at=expires_at, rate_limit=rate_limit
        )
    finally:
        store.close()
