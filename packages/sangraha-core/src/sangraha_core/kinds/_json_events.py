"""The fallback path: JSON validated from ijson's events, when yajl cannot be loaded.

ijson builds a Python object for every token, which caps it near 20 MB/s, so this path is
taken only when yajl cannot be loaded through ctypes. It is never the way out of the direct
path: ijson's C backend, handed a number it cannot convert, leaves the exception pending
inside its C code and the process dies of a segmentation fault (``[``, 4,301 digits, ``~]``).
"""

from __future__ import annotations

import decimal
from typing import Any

import ijson

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidContentError
from ._json_limits import MAX_JSON_DEPTH, MAX_JSON_TOKEN, number_refusal
from ._json_shape import MAX_JSON_KEYS, MAX_KEY_CHARS, shape
from ._json_surrogates import Surrogates
from ._stream import Source

__all__ = ["inspect_events"]

#: Longest parser message kept in a reason.
_MAX_MESSAGE = 200

_SCALARS = {
    "null": "null",
    "boolean": "boolean",
    "integer": "number",
    "double": "number",
    "number": "number",
    "string": "string",
}


class _Feed:
    """What yajl reads: the source, after the byte-level checks yajl does not make."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._surrogates = Surrogates()
        self._done = False
        #: Bytes read since a token last ended; the parse loop resets it on every event.
        self.quiet = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes with read(0) to tell bytes from text
        if size < 0:
            size = CHUNK_SIZE
        data = self._source.read(size)
        self.quiet += len(data)
        if self.quiet > MAX_JSON_TOKEN + size:
            raise InvalidContentError(
                f"a single token (string, number or whitespace) is longer than "
                f"{MAX_JSON_TOKEN} bytes"
            )
        if b"\x0c" in data or b"\x0b" in data:
            where = min(i for i in (data.find(b"\x0c"), data.find(b"\x0b")) if i >= 0)
            raise InvalidContentError(
                f"control character U+{data[where]:04X} at byte "
                f"{self._source.tell() - len(data) + where} (JSON whitespace is space, tab, "
                "line feed and carriage return only)"
            )
        if data:
            self._surrogates.feed(data, final=False)
        else:
            self.finish()
        return data

    def finish(self) -> None:
        if not self._done:
            self._done = True
            self._surrogates.feed(b"", final=True)


def inspect_events(source: Source) -> dict[str, Any]:
    feed = _Feed(source)
    json_type: str | None = None
    depth = max_depth = 0
    keys: list[str] = []
    key_count = length = 0
    try:
        for event, value in ijson.basic_parse(feed, buf_size=CHUNK_SIZE):
            feed.quiet = 0
            if event == "start_map" or event == "start_array":
                if depth == 1:
                    length += 1
                elif depth == 0:
                    json_type = "object" if event == "start_map" else "array"
                depth += 1
                if depth > max_depth:
                    max_depth = depth
                    if depth > MAX_JSON_DEPTH:
                        raise InvalidContentError(f"nesting deeper than {MAX_JSON_DEPTH} levels")
            elif event == "end_map" or event == "end_array":
                depth -= 1
            elif event == "map_key":
                if depth == 1:
                    key_count += 1
                    if len(keys) < MAX_JSON_KEYS:
                        keys.append(value[:MAX_KEY_CHARS])
            elif depth == 1:
                length += 1
            elif depth == 0:
                json_type = _SCALARS[event]
        feed.finish()
    except InvalidContentError:
        raise
    except ijson.JSONError as exc:
        raise InvalidContentError(f"not valid JSON: {_yajl_message(exc)}") from None
    except UnicodeDecodeError as exc:
        reason = f"not valid JSON: a string is not valid UTF-8 ({exc.reason})"
        raise InvalidContentError(reason) from None
    except (ValueError, decimal.DecimalException) as exc:
        raise InvalidContentError(number_refusal(exc)) from None
    return shape(json_type, max_depth, keys, key_count, length)


def _yajl_message(exc: Exception) -> str:
    """yajl's first line, without the context dump it draws under it."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    # The pure-Python backend quotes the offending token whole, which may be megabytes.
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."
