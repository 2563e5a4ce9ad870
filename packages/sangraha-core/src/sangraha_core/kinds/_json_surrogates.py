"""``\\u`` escapes of unpaired UTF-16 surrogates, which yajl lets through, found on the bytes.

yajl turns them into a ``?`` or into bytes no decoder accepts, so they are refused outright
(see docs/kinds.md).
"""

from __future__ import annotations

import re

from .._exceptions import InvalidContentError

__all__ = ["Surrogates"]

_SURROGATE = re.compile(rb"\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_LOW_SURROGATE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH = frozenset(b"89abAB")
_CARRY = 12  # a high and a low surrogate escape: \\uD834\\uDD1E


class Surrogates:
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
