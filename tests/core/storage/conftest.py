"""The ``blob_store`` fixture: every backend, so one suite proves them all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sangraha_core import open_blob_store
from sangraha_core.storage import BlobStore
from tests._services import blob_url


@pytest.fixture(
    params=[
        "file",
        pytest.param("moto", marks=pytest.mark.s3),
        pytest.param("rgw", marks=pytest.mark.s3),
    ]
)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """A fresh, empty store, opened by URL as the services open it: on files, on moto
    (what the store was first written against) and on Ceph RGW (a real S3 server)."""
    if request.param == "file":
        url = (tmp_path / "blobs").as_uri()
    else:
        request.getfixturevalue("s3_env")
        url = blob_url(request.getfixturevalue(f"{request.param}_endpoint"))
    store = open_blob_store(url)
    try:
        yield store
    finally:
        store.close()
