"""The direct path: JSON validated by yajl through ctypes, Python called only for containers.

yajl sees every byte but calls back into Python only for the start and end of arrays and
objects (to count depth) and for the tokens at the top level (to describe the shape). UTF-8
is checked on the raw bytes, which for a document yajl accepts is the same as checking
every string. Python's number rules (an integer of more than
``sys.get_int_max_str_digits()`` digits, an exponent beyond what ``Decimal`` holds) need
each number converted, so once a block holds a run of digits long enough to break one of
them, every number from there on is called back and converted.
"""

from __future__ import annotations

import codecs
import ctypes
import sys
from typing import Any

from .._constants import CHUNK_SIZE
from .._exceptions import InvalidContentError
from ._json_limits import MAX_JSON_DEPTH, MAX_JSON_TOKEN, unconvertible
from ._json_shape import MAX_JSON_KEYS, MAX_KEY_CHARS, shape
from ._json_surrogates import Surrogates
from ._stream import Source
from ._yajl import OK, BoolEvent, Callbacks, Event, TextEvent

__all__ = ["DirectParse"]

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


class DirectParse:
    """One parse of one document by yajl, with our checks on every block it is given."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._surrogates = Surrogates()
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
        self._on = Callbacks(
            null=Event(self._null),
            boolean=BoolEvent(self._boolean),
            number=TextEvent(self._number),
            string=TextEvent(self._string),
            start_map=Event(self._start_map),
            map_key=TextEvent(self._map_key),
            end_map=Event(self._end),
            start_array=Event(self._start_array),
            end_array=Event(self._end),
        )
        self._callbacks = Callbacks(
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
                if status != OK:
                    raise InvalidContentError(self.failure or self._error(handle, data))
                if not data:
                    break
                self._offset += len(data)
        finally:
            lib.yajl_free(handle)
        return shape(self.json_type, self.max_depth, self.keys, self.key_count, self.length)

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
        callbacks, source = self._callbacks, self._on if on else Callbacks()
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
            self.failure = unconvertible(ctypes.string_at(text, size))
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
                self.keys.append(key[:MAX_KEY_CHARS])
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
