"""Worker tests run on real embedded backends: a file blob store, SQLite and the memory queue."""

from __future__ import annotations
