"""RESULTS.md: each benchmark rewrites the generated table of its own section, and only it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["fmt", "write_section"]


def fmt(value: Any) -> str:
    """A table cell: ``-`` for a figure a case does not have."""
    return "-" if value is None else str(value)


def write_section(
    results: Path, *, section: str, begin: str, end: str, table: str, on_top: bool
) -> None:
    """Put ``table`` (which starts with ``begin`` and ends with ``end``) in ``section``.

    A table already there between its markers is replaced, and the prose written around
    it by hand is kept; a section without one gets it under its heading; a missing section
    is added at the top of the file (``on_top``) or at its end.
    """
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + table + rest.split(end, 1)[1]
    elif heading := re.search(rf"^{re.escape(section)}$", text, re.MULTILINE):
        # The heading as a whole line: "## Small objects" is not "## Small objects with wrk".
        head, rest = text[: heading.end()], text[heading.end() :]
        text = f"{head}\n\n{table}\n{rest}"
    elif on_top:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{section}\n\n{table}\n\n{body.lstrip()}"
    else:
        text = f"{text.rstrip()}\n\n{section}\n\n{table}\n"
    results.write_text(text)
