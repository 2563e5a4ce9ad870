"""The conformance suites of the three backend contracts, for any implementation of them.

``pip install "sangraha-core[testing]"`` brings pytest with them. Each suite is a class of
pytest tests: subclass it in a test module, under a name pytest collects (``Test…``), and
give the subclass the fixture the suite names, a fresh backend for each test:

- ``BlobStoreConformance``: ``store``, an empty ``sangraha_core.storage.BlobStore``;
- ``MetadataStoreConformance``: ``store``, a migrated ``sangraha_core.metadata.MetadataStore``
  on an empty database;
- ``QueueConformance``: ``queue``, a ``sangraha_core.queue.Queue`` set up and empty;
- ``AccessKeysConformance``: ``keys``, an empty ``sangraha_core.access.AccessKeys`` (the
  metadata store's table of access keys).

::

    import pytest
    from sangraha_core.storage import BlobStore
    from sangraha_core.testing import BlobStoreConformance

    class TestMyBlobStore(BlobStoreConformance):
        @pytest.fixture
        def store(self) -> Iterator[BlobStore]:
            store = MyBlobStore()
            yield store
            store.close()

What a suite cannot do through the contract (open a second store on one database, reach
a database that is down, know a queue's delivery limit) it asks of the subclass through a
hook method or a class attribute, documented on the suite; a test whose hook the subclass
does not give is skipped, saying which hook would run it. Sangraha's own backends pass
these same classes. The helpers the tests use (``read``, ``add``, ``receive``, ...) are in
``sangraha_core.testing.storage``, ``.metadata`` and ``.queue``.
"""

import pkgutil

import pytest

# Asserts outside a test module are explained on failure only if pytest is told of their
# modules before they are imported.
pytest.register_assert_rewrite(*(m.name for m in pkgutil.iter_modules(__path__, f"{__name__}.")))

from .access import AccessKeysConformance  # noqa: E402
from .metadata import MetadataStoreConformance  # noqa: E402
from .queue import QueueConformance  # noqa: E402
from .storage import BlobStoreConformance  # noqa: E402

__all__ = [
    "AccessKeysConformance",
    "BlobStoreConformance",
    "MetadataStoreConformance",
    "QueueConformance",
]
