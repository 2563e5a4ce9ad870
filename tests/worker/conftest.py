"""Worker tests run on real embedded backends: a file blob store, SQLite and the memory queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sangraha_core import Backends, Settings


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[Backends]:
    opened = Backends.from_settings(Settings(data_dir=tmp_path))
    yield opened
    opened.close()
