"""What the command line shows a person: columns of records, sizes, and progress bars.

Machine output (``--json``) is written by the commands themselves; everything here is for
eyes. Progress bars (tqdm) go to stderr, and only when it is a terminal, so a script that
reads stdout or stderr sees neither escape codes nor carriage returns.
"""

from __future__ import annotations

import contextlib
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import TextIO

from sangraha_core import FailureKind, ObjectRecord, ObjectStatus

from ._types import ProgressCallback

__all__ = ["TABLE_HEADER", "human_size", "progress_bar", "record_table"]

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")

#: The column titles of :func:`record_table`, in order.
TABLE_HEADER = ("KEY", "SIZE", "CREATED (UTC)", "STATUS", "KIND", "REASON")


def human_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``20.0 MiB``: powers of 1024, one decimal past bytes."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        # 1023.95 would print as 1024.0 of this unit: the next one reads better.
        if value < 1023.95 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _printable(text: str) -> str:
    # A key may hold control characters (a newline, an escape); shown raw they would break
    # the table or drive the terminal.
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _reason(record: ObjectRecord) -> str:
    if record.status is not ObjectStatus.FAILED:
        return ""
    reason = " ".join((record.error or "no reason given").split())
    if record.failure_kind is FailureKind.RETRIABLE:
        reason += " (retriable: sangraha-worker replay may still make it ready)"
    return reason


def record_table(records: Sequence[ObjectRecord]) -> list[str]:
    """Lines of aligned columns under a header line; none at all for no records.

    Key, size, creation time (UTC), status, kind, and why processing failed for a failed
    version. The reason comes last, so a long one never pushes the other columns out.
    """
    if not records:
        return []
    rows = [
        (
            _printable(r.key),
            human_size(r.size),
            r.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            r.status.value,
            r.kind.value,
            _reason(r),
        )
        for r in records
    ]
    # The reason's title only heads a column that has one.
    header = TABLE_HEADER if any(row[5] for row in rows) else (*TABLE_HEADER[:5], "")
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(5)]
    lines = []
    for row in [header, *rows]:
        key, size, created, status, kind, reason = row
        cells = [
            _pad(key, widths[0]),
            " " * (widths[1] - _width(size)) + size,
            _pad(created, widths[2]),
            _pad(status, widths[3]),
            _pad(kind, widths[4]) if reason else kind,
        ]
        if reason:
            cells.append(reason)
        lines.append("  ".join(cells).rstrip())
    return lines


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


#: Once the total is known: the share, the bar, bytes done of all, time spent and left,
#: speed. Before, tqdm's own form without a total (bytes done, time spent, speed).
_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}]"


@contextlib.contextmanager
def progress_bar(
    label: str, stream: TextIO, total: int | None = None
) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing a bar with speed and time left on ``stream``.

    ``None`` when ``stream`` is not a terminal: nothing is drawn and nothing is imported.
    The callback may be called from several threads (parts go up in parallel) and with
    fewer bytes than before (a retried request starts its count again). Sizes are in SI
    units (kB = 1000 B), as tqdm scales them.
    """
    if not _is_terminal(stream):
        yield None
        return
    from tqdm import tqdm  # Only a terminal pays for importing it.

    bar = tqdm(
        desc=_printable(label),
        total=total,
        unit="B",
        unit_scale=True,
        file=stream,
        dynamic_ncols=True,
        leave=True,
        bar_format=None if total is None else _BAR_FORMAT,
    )
    lock = threading.Lock()

    def report(done: int, total: int | None) -> None:
        with lock:
            if total is not None and bar.total != total:
                bar.total = total
                bar.bar_format = _BAR_FORMAT
            bar.update(done - bar.n)

    try:
        yield report
    finally:
        bar.close()
