"""Strict RFC 8259 JSON: validated as a stream, in bounded memory, with its shape extracted.

yajl (through ijson's C backend) does the parse. It is stricter than Python's ``json``
(no NaN, no Infinity, no trailing garbage, raw control characters refused), and Python
then decodes every string as strict UTF-8, which catches what yajl's own UTF-8 check lets
through (overlong forms, code points above U+10FFFF, encoded surrogates). What yajl still
accepts and RFC 8259 does not is checked here, on the bytes, before yajl sees them:

* form feed and vertical tab, which yajl takes for whitespace. Raw control characters are
  refused inside strings, so either byte anywhere means an invalid document.
* ``\\u`` escapes of unpaired UTF-16 surrogates, which yajl turns into a ``?`` or into
  bytes no decoder accepts, so they are refused outright (see docs/kinds.md).

Nesting deeper than ``MAX_JSON_DEPTH`` is refused, and so is a single token (a string, a
number, or a run of whitespace) longer than ``MAX_JSON_TOKEN`` bytes, because yajl keeps
the token it is reading in memory: together they bound memory whatever the document size.
"""

from __future__ import annotations

import decimal
import re
from typing import Any

import ijson

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidContentError
from ._stream import Source

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_KEYS", "MAX_JSON_TOKEN", "inspect_json"]

#: Deepest nesting of arrays and objects accepted (the test suite's deepest valid case is 500).
MAX_JSON_DEPTH = 1000
#: Longest single token, in bytes; yajl holds one token in memory while it reads it.
MAX_JSON_TOKEN = 16 * 1024 * 1024
#: How many top-level keys are listed in the extracted metadata.
MAX_JSON_KEYS = 100
#: Longest top-level key listed; longer ones are cut, so metadata stays small.
_MAX_KEY_CHARS = 256

_SURROGATE = re.compile(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_LOW_SURROGATE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH = frozenset(b"89abAB")
_CARRY = 12  # a high and a low surrogate escape: \\uD834\\uDD1E

_SCALARS = {
    "null": "null",
    "boolean": "boolean",
    "integer": "number",
    "double": "number",
    "number": "number",
    "string": "string",
}


class _Surrogates:
    """Finds ``\\u`` escapes of unpaired surrogates, across read boundaries.

    An escape counts only when an odd number of backslashes leads to its ``u``
    (``\\\\uD800`` is an escaped backslash and the text ``uD800``). Bytes near the end of
    each read are carried into the next, so that a pair split between two reads is seen
    whole.
    """

    def __init__(self) -> None:
        self._carry = b""
        self._offset = 0  # where _carry starts in the document
        self._backslashes = 0  # backslashes just before _carry
        self._next = 0  # escapes starting before this were already judged
        self._low_expected = -1  # where the low half of the last high surrogate sits

    def feed(self, data: bytes, *, final: bool) -> None:
        buf = self._carry + data
        cut = len(buf) if final else max(0, len(buf) - _CARRY)
        for match in _SURROGATE.finditer(buf):
            start = match.start()
            if start >= cut:
                break
            if self._offset + start < self._next:
                continue
            self._next = self._offset + match.end()
            # The backslash run ends at ``start``; runs inside one string are bounded by
            # MAX_JSON_TOKEN, so walking back over them stays linear.
            first = start
            while first > 0 and buf[first - 1] == 0x5C:
                first -= 1
            run = start - first + 1 + (self._backslashes if first == 0 else 0)
            if run % 2 == 0:
                continue
            escape = self._offset + start
            if match.group(1)[0] in _HIGH:
                if not _LOW_SURROGATE.match(buf, match.end()):
                    raise InvalidContentError(f"unpaired UTF-16 surrogate escape at byte {escape}")
                self._low_expected = escape + 6
            elif escape != self._low_expected:
                raise InvalidContentError(f"unpaired UTF-16 surrogate escape at byte {escape}")
        head = buf[:cut]
        trailing = len(head) - len(head.rstrip(b"\\"))
        self._backslashes = trailing + (self._backslashes if trailing == len(head) else 0)
        self._carry = buf[cut:]
        self._offset += cut


class _Feed:
    """What yajl reads: the source, after the byte-level checks yajl does not make."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._surrogates = _Surrogates()
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


def inspect_json(source: Source) -> dict[str, Any]:
    """Validate ``source`` as one strict JSON text and describe its top level."""
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
                        keys.append(value[:_MAX_KEY_CHARS])
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
    except ValueError as exc:
        # int() refuses literals longer than sys.get_int_max_str_digits() (4300 by default).
        raise InvalidContentError(f"not valid JSON: {exc}") from None
    except decimal.DecimalException as exc:
        raise InvalidContentError(f"not valid JSON: unrepresentable number ({exc!r})") from None
    if json_type is None:
        raise InvalidContentError("not valid JSON: the document is empty")
    result: dict[str, Any] = {"json_type": json_type, "max_depth": max_depth}
    if json_type == "object":
        result["top_level_keys"] = keys
        result["key_count"] = key_count
    elif json_type == "array":
        result["length"] = length
    return result


def _yajl_message(exc: Exception) -> str:
    """yajl's first line, without the context dump it draws under it."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
