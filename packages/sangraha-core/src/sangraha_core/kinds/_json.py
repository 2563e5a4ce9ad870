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

Two paths give the same answers. ijson builds a Python object for every token, which caps
it near 20 MB/s, so documents are validated by calling yajl directly (the very library
ijson's C backend loads): it sees every byte but calls back into Python only for the start
and end of arrays and objects (to count depth) and for the tokens at the top level (to
describe the shape). UTF-8 is then checked on the raw bytes, which for a document yajl
accepts is the same as checking every string. Python's number rules (an integer of more
than ``sys.get_int_max_str_digits()`` digits, an exponent beyond what ``Decimal`` holds)
need each number converted, so once a block holds a run of digits long enough to break
one of them, every number from there on is called back and converted.

ijson's events are the path taken only when yajl cannot be loaded through ctypes. They are
never the way out of the direct path: ijson's C backend, handed a number it cannot
convert, leaves the exception pending inside its C code and the process dies of a
segmentation fault (``[``, 4,301 digits, ``~]``).
"""

from __future__ import annotations

import codecs
import ctypes
import decimal
import re
import sys
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

#: Longest parser message kept in a reason.
_MAX_MESSAGE = 200

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
    if _YAJL is not None:
        return _Direct(_YAJL).inspect(source)
    return _inspect_events(source)


def _inspect_events(source: Source) -> dict[str, Any]:
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
    return _shape(json_type, max_depth, keys, key_count, length)


def _shape(
    json_type: str | None, max_depth: int, keys: list[str], key_count: int, length: int
) -> dict[str, Any]:
    if json_type is None:
        raise InvalidContentError("not valid JSON: the document is empty")
    result: dict[str, Any] = {"json_type": json_type, "max_depth": max_depth}
    if json_type == "object":
        result["top_level_keys"] = keys
        result["key_count"] = key_count
    elif json_type == "array":
        result["length"] = length
    return result


def _unconvertible(number: bytes) -> str | None:
    """Why Python cannot hold the JSON ``number``, as ijson would convert it, or None."""
    text = number.decode("ascii")
    try:
        if "." in text or "e" in text or "E" in text:
            decimal.Decimal(text)
        else:
            int(text)
    except ValueError as exc:
        # int() refuses literals longer than sys.get_int_max_str_digits() (4300 by default).
        return f"not valid JSON: {exc}"
    except decimal.DecimalException as exc:
        return f"not valid JSON: unrepresentable number ({exc!r})"
    return None


def _yajl_message(exc: Exception) -> str:
    """yajl's first line, without the context dump it draws under it."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    line = str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
    # The pure-Python backend quotes the offending token whole, which may be megabytes.
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


# -- the direct path: yajl through ctypes, Python called only for containers -----------

_Event = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_BoolEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_IntEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_longlong)
_DoubleEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_double)
_TextEvent = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _Callbacks(ctypes.Structure):
    """yajl 2's ``yajl_callbacks``. yajl reads it through a pointer at every token, so a
    field set to NULL mid-parse stops those calls from there on."""

    _fields_ = [
        ("null", _Event),
        ("boolean", _BoolEvent),
        ("integer", _IntEvent),  # never set: it makes yajl refuse integers beyond 64 bits
        ("double", _DoubleEvent),  # never set: it makes yajl refuse doubles that overflow
        ("number", _TextEvent),
        ("string", _TextEvent),
        ("start_map", _Event),
        ("map_key", _TextEvent),
        ("end_map", _Event),
        ("start_array", _Event),
        ("end_array", _Event),
    ]


def _load_yajl() -> ctypes.CDLL | None:
    """libyajl as ijson's C backend links it, or None (then ijson's own path is used)."""
    try:
        from ijson.backends import _yajl2

        # dlsym on the extension also searches the libraries it was linked against.
        lib = ctypes.CDLL(_yajl2.__file__)
        lib.yajl_alloc.restype = ctypes.c_void_p
        lib.yajl_alloc.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.yajl_parse.restype = ctypes.c_int
        lib.yajl_parse.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.yajl_complete_parse.restype = ctypes.c_int
        lib.yajl_complete_parse.argtypes = [ctypes.c_void_p]
        lib.yajl_get_error.restype = ctypes.c_void_p
        lib.yajl_get_error.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.yajl_free_error.restype = None
        lib.yajl_free_error.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.yajl_free.restype = None
        lib.yajl_free.argtypes = [ctypes.c_void_p]
    except (ImportError, OSError, AttributeError):
        return None
    return lib


_YAJL = _load_yajl()
_OK = 0  # yajl_status_ok
#: Bytes with no container event after which the scalar callbacks are switched on, so
#: that a long token is told apart from a long run of short ones.
_WATCH_AFTER = CHUNK_SIZE

# Digits become "0", exponent letters "e", signs "+", the rest a space: then a number
# that only Python's conversion would refuse shows up as a plain substring.
_DIGIT_MAP = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x65 if b in b"eE" else 0x2B if b in b"+-" else 0x20
    for b in range(256)
)
#: ``Decimal`` refuses exponents beyond 10**18; a longer digit run may be one.
_LONG_EXPONENTS = (b"e" + b"0" * 18, b"e+" + b"0" * 18)


class _Direct:
    """One parse of one document by yajl, with our checks on every block it is given."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._surrogates = _Surrogates()
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        digits = sys.get_int_max_str_digits()
        self._long_digits = b"0" * (digits + 1) if digits else None
        self._tail = b""  # the end of the last block, mapped through _DIGIT_MAP
        self._offset = 0
        self.failure: str | None = None
        self.json_type: str | None = None
        self.depth = self.max_depth = 0
        self.keys: list[str] = []
        self.key_count = self.length = 0
        self.quiet = 0
        self.watching = False
        #: Every number is converted as Python would, from the first block with a long run
        #: of digits on.
        self.converting = False
        # The ctypes wrappers must outlive the parse: yajl holds raw pointers to them.
        self._on = _Callbacks(
            null=_Event(self._null),
            boolean=_BoolEvent(self._boolean),
            number=_TextEvent(self._number),
            string=_TextEvent(self._string),
            start_map=_Event(self._start_map),
            map_key=_TextEvent(self._map_key),
            end_map=_Event(self._end),
            start_array=_Event(self._start_array),
            end_array=_Event(self._end),
        )
        self._callbacks = _Callbacks(
            start_map=self._on.start_map,
            end_map=self._on.end_map,
            start_array=self._on.start_array,
            end_array=self._on.end_array,
        )
        self._tokens(True)

    def inspect(self, source: Source) -> dict[str, Any]:
        lib = self._lib
        handle = lib.yajl_alloc(ctypes.byref(self._callbacks), None, None)
        if not handle:
            raise MemoryError("yajl_alloc failed")
        try:
            while True:
                data = source.read(CHUNK_SIZE)
                self._check(data, final=not data)
                if not data:
                    status = lib.yajl_complete_parse(handle)
                else:
                    status = lib.yajl_parse(handle, data, len(data))
                if status != _OK:
                    raise InvalidContentError(self.failure or self._error(handle, data))
                if not data:
                    break
                self._offset += len(data)
        finally:
            lib.yajl_free(handle)
        return _shape(self.json_type, self.max_depth, self.keys, self.key_count, self.length)

    def _check(self, data: bytes, *, final: bool) -> None:
        """Everything yajl does not check about ``data``, before yajl sees it."""
        self.quiet += len(data)
        if self.quiet > MAX_JSON_TOKEN + CHUNK_SIZE:
            raise InvalidContentError(
                f"a single token (string, number or whitespace) is longer than "
                f"{MAX_JSON_TOKEN} bytes"
            )
        if self.quiet >= _WATCH_AFTER and not self.watching:
            self.watching = True
            self._tokens(True)
        where = min((i for i in (data.find(b"\x0c"), data.find(b"\x0b")) if i >= 0), default=-1)
        if where >= 0:
            raise InvalidContentError(
                f"control character U+{data[where]:04X} at byte {self._offset + where} (JSON "
                "whitespace is space, tab, line feed and carriage return only)"
            )
        self._surrogates.feed(data, final=final)
        try:
            self._utf8.decode(data, final)
        except UnicodeDecodeError as exc:
            raise InvalidContentError(
                f"not valid JSON: not UTF-8 at byte {self._offset + exc.start} ({exc.reason})"
            ) from None
        if self.converting:
            return
        mapped = self._tail + data.translate(_DIGIT_MAP)
        if (self._long_digits is not None and self._long_digits in mapped) or any(
            exponent in mapped for exponent in _LONG_EXPONENTS
        ):
            # The run may sit in a string; only a number's own callback can tell.
            self.converting = True
            self._callbacks.number = self._on.number
        self._tail = mapped[-(len(self._long_digits or b"") + len(_LONG_EXPONENTS[1])) :]

    def _error(self, handle: int, data: bytes) -> str:
        text = self._lib.yajl_get_error(handle, 0, data, len(data))
        try:
            message = ctypes.string_at(text).decode("utf-8", "replace") if text else ""
        finally:
            if text:
                self._lib.yajl_free_error(handle, text)
        message = message.strip().splitlines()[0] if message.strip() else "yajl refused it"
        return f"not valid JSON: {message}"

    def _tokens(self, on: bool) -> None:
        """Call back for keys and scalars (or stop): at the top levels, or while watching."""
        callbacks, source = self._callbacks, self._on if on else _Callbacks()
        callbacks.null = source.null
        callbacks.boolean = source.boolean
        callbacks.number = self._on.number if self.converting else source.number
        callbacks.string = source.string
        callbacks.map_key = source.map_key

    # The callbacks below run inside yajl: they must not raise, and return 0 to stop it.

    def _token(self, json_type: str) -> int:
        self.quiet = 0
        if self.depth == 1:
            self.length += 1
        elif self.depth == 0:
            self.json_type = json_type
        elif self.watching:
            self.watching = False
            self._tokens(False)
        return 1

    def _null(self, _: int | None) -> int:
        return self._token("null")

    def _boolean(self, _: int | None, __: int) -> int:
        return self._token("boolean")

    def _number(self, _: int | None, text: int | None, size: int) -> int:
        if self.converting and text is not None:
            self.failure = _unconvertible(ctypes.string_at(text, size))
            if self.failure is not None:
                return 0
        return self._token("number")

    def _string(self, _: int | None, __: int | None, ___: int) -> int:
        return self._token("string")

    def _map_key(self, _: int | None, text: int | None, size: int) -> int:
        self.quiet = 0
        if self.depth == 1:
            self.key_count += 1
            if len(self.keys) < MAX_JSON_KEYS and text is not None:
                # A lone surrogate escape may reach here before its check ends the parse.
                key = ctypes.string_at(text, size).decode("utf-8", "replace")
                self.keys.append(key[:_MAX_KEY_CHARS])
        elif self.watching:
            self.watching = False
            self._tokens(False)
        return 1

    def _start(self, json_type: str) -> int:
        self.quiet = 0
        if self.depth == 1:
            self.length += 1
        elif self.depth == 0:
            self.json_type = json_type
        self.depth += 1
        if self.depth > self.max_depth:
            self.max_depth = self.depth
            if self.depth > MAX_JSON_DEPTH:
                self.failure = f"nesting deeper than {MAX_JSON_DEPTH} levels"
                return 0
        if self.depth == 2 and not self.watching:
            self._tokens(False)
        return 1

    def _start_map(self, _: int | None) -> int:
        return self._start("object")

    def _start_array(self, _: int | None) -> int:
        return self._start("array")

    def _end(self, _: int | None) -> int:
        self.quiet = 0
        self.depth -= 1
        if self.depth == 1 and not self.watching:
            self._tokens(True)
        return 1
