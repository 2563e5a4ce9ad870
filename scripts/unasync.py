#!/usr/bin/env python3
"""Write the sync client from the async one, or check that the committed copy matches.

``python3 scripts/unasync.py`` rewrites ``_sync_client.py`` from ``_async_client.py``;
``python3 scripts/unasync.py --check`` writes nothing and exits 1, printing a diff, when
the committed file is not what the source makes. The rewrite is a table of whole-word
substitutions applied line by line (the pattern of httpcore's ``scripts/unasync.py``);
whatever truly differs between the clients lives in ``_runtime.py`` instead, so the table
stays a list of names. Only the standard library is used, so any Python 3.11 can run it.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PAIRS", "SUBSTITUTIONS", "UnasyncError", "check", "main", "unasync", "write"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "packages" / "sangraha-client" / "src" / "sangraha_client"

#: Each async source and the sync module generated from it.
PAIRS: list[tuple[Path, Path]] = [
    (PACKAGE / "_async_client.py", PACKAGE / "_sync_client.py"),
    (PACKAGE / "_keys_async.py", PACKAGE / "_keys_sync.py"),
    (PACKAGE / "_buckets_async.py", PACKAGE / "_buckets_sync.py"),
]

#: In order; each left side matches whole words only.
SUBSTITUTIONS: list[tuple[str, str]] = [
    # The language.
    ("async def", "def"),
    ("async with", "with"),
    ("async for", "for"),
    ("await ", ""),
    ("__aenter__", "__enter__"),
    ("__aexit__", "__exit__"),
    ("__aiter__", "__iter__"),
    # The standard library.
    ("asynccontextmanager", "contextmanager"),
    ("AsyncIterator", "Iterator"),
    # httpx.
    ("AsyncBaseTransport", "BaseTransport"),
    ("AsyncClient", "Client"),
    ("aiter_bytes", "iter_bytes"),
    ("aclose", "close"),
    ("aread", "read"),
    # This package.
    ("AsyncKeyMethods", "SyncKeyMethods"),
    ("_keys_async", "_keys_sync"),
    ("AsyncBucketMethods", "SyncBucketMethods"),
    ("_buckets_async", "_buckets_sync"),
    ("AsyncObjectStream", "ObjectStream"),
    ("AsyncPage", "SyncPage"),
    # The sync client returns the first page itself, where the async one returns a paginator.
    ("AsyncPaginator", "SyncPage"),
    ("AsyncRuntime", "SyncRuntime"),
    ("AsyncUploadData", "UploadData"),
    # Prose.
    ("An asyncio client", "A blocking client"),
]

_COMPILED = [
    (re.compile(rf"(?<!\w){re.escape(old)}" + (r"\b" if old[-1].isalnum() else "")), new)
    for old, new in SUBSTITUTIONS
]

#: Left in the output, any of these means the table lacks an entry.
_LEFTOVER = re.compile(r"\b(?:async|await|asyncio|Async[A-Z]\w*)\b")

_HEADER = (
    "# Generated from {source} by scripts/unasync.py: edit that file, then run the script.\n"
    "# nox -s lint and tests/client/test_unasync.py fail when this one has drifted from it.\n"
)

_FROM_IMPORT = re.compile(r"^(from [\w.]+ import )(?:\(\n((?:    .+,\n)+)\)|([^(\n]+))$", re.M)


class UnasyncError(Exception):
    """The source uses an async construct the table has no sync form for."""


def _member_key(name: str) -> tuple[int, str]:
    # ruff's isort order: CONSTANTS, then Classes, then the rest, each case-insensitively.
    bare = name.split(" as ")[0]
    kind = 0 if len(bare) > 1 and bare.isupper() else 1 if bare[:1].isupper() else 2
    return kind, bare.lower()


def _sort_names(match: re.Match[str]) -> str:
    # Renaming can move a name out of order: ``AsyncUploadData`` sorts first, ``UploadData``
    # late.
    # Two async names can share one sync name (``AsyncPage``, ``AsyncPaginator``): import it once.
    head, block, line = match.groups()
    if block is not None:
        found = dict.fromkeys(n.strip().rstrip(",") for n in block.splitlines())
        names = sorted(found, key=_member_key)
        return head + "(\n" + "".join(f"    {n},\n" for n in names) + ")"
    names = sorted(dict.fromkeys(n.strip() for n in line.split(",")), key=_member_key)
    return head + ", ".join(names)


def unasync(source: str, *, name: str) -> str:
    """The sync module made from the text of the async module ``name``."""
    lines = []
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        for pattern, new in _COMPILED:
            line = pattern.sub(new, line)
        leftover = _LEFTOVER.search(line)
        if leftover is not None:
            raise UnasyncError(f"{name}:{number}: no sync form for {leftover[0]!r}: {line!r}")
        lines.append(line)
    return _HEADER.format(source=name) + _FROM_IMPORT.sub(_sort_names, "".join(lines))


def check(pairs: Sequence[tuple[Path, Path]] = PAIRS) -> list[str]:
    """A diff for every generated file that is not what its source makes; empty if none."""
    diffs = []
    for source, target in pairs:
        expected = unasync(source.read_text("utf-8"), name=source.name)
        actual = target.read_text("utf-8") if target.exists() else ""
        if actual != expected:
            diff = difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                f"{target.name} (committed)",
                f"{target.name} (from {source.name})",
            )
            diffs.append("".join(diff))
    return diffs


def write(pairs: Sequence[tuple[Path, Path]] = PAIRS) -> list[Path]:
    """Regenerate every target; the ones that changed."""
    changed = []
    for source, target in pairs:
        expected = unasync(source.read_text("utf-8"), name=source.name)
        if not target.exists() or target.read_text("utf-8") != expected:
            target.write_text(expected, "utf-8")
            changed.append(target)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a generated file differs"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            diffs = check()
            for diff in diffs:
                sys.stderr.write(diff)
            if diffs:
                sys.stderr.write("generated files are stale: run python3 scripts/unasync.py\n")
            return 1 if diffs else 0
        for path in write():
            print(f"wrote {path.relative_to(ROOT)}")
    except UnasyncError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
