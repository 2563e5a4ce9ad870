"""The ``blob_store`` fixture: every backend, so one suite proves them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sangraha_core import open_blob_store
from sangraha_core.storage import BlobStore


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """A fresh, empty store, opened by URL as the services open it."""
    if request.param == "file":
        url = (tmp_path / "blobs").as_uri()
    else:
        url = request.getfixturevalue("s3_url")
    store = open_blob_store(url)
    try:
        yield store
    finally:
        store.close()
