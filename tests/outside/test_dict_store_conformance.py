"""A blob store from outside the project passes the suite the core ships, through public names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sangraha_core.storage import BlobStore
from sangraha_core.testing import BlobStoreConformance
from tests.outside.dict_store import DictBlobStore


class TestDictBlobStore(BlobStoreConformance):
    keeps_bytes_in_memory = True

    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        store = DictBlobStore()
        yield store
        store.close()
