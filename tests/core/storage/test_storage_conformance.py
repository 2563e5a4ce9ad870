"""The shipped blob store suite on every backend: files, moto (what the S3 store was first
written against) and Ceph RGW (a real S3 server), each opened by URL as the services open it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sangraha_core import open_blob_store
from sangraha_core.storage import BlobStore
from sangraha_core.testing import BlobStoreConformance
from tests._services import blob_url


def _opened(url: str) -> Iterator[BlobStore]:
    store = open_blob_store(url)
    try:
        yield store
    finally:
        store.close()


class TestFileBlobStore(BlobStoreConformance):
    nested_keys = False

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BlobStore]:
        yield from _opened((tmp_path / "blobs").as_uri())


@pytest.mark.s3
class TestMotoBlobStore(BlobStoreConformance):
    @pytest.fixture
    def store(self, s3_env: None, moto_endpoint: str) -> Iterator[BlobStore]:
        yield from _opened(blob_url(moto_endpoint))


@pytest.mark.s3
class TestRgwBlobStore(BlobStoreConformance):
    @pytest.fixture
    def store(self, s3_env: None, rgw_endpoint: str) -> Iterator[BlobStore]:
        yield from _opened(blob_url(rgw_endpoint))
