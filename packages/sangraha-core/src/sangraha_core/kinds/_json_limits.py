"""What a JSON document may hold beyond its grammar: nesting, token length, numbers."""

from __future__ import annotations

import decimal

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_TOKEN", "unconvertible"]

#: Deepest nesting of arrays and objects accepted (the test suite's deepest valid case is 500).
MAX_JSON_DEPTH = 1000
#: Longest single token, in bytes; yajl holds one token in memory while it reads it.
MAX_JSON_TOKEN = 16 * 1024 * 1024


def unconvertible(number: bytes) -> str | None:
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
