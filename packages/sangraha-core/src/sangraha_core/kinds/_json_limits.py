"""What a JSON document may hold beyond its grammar: nesting, token length, numbers."""

from __future__ import annotations

import decimal
import sys

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_TOKEN", "number_refusal", "unconvertible"]

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
    except (ValueError, decimal.DecimalException) as exc:
        return number_refusal(exc)
    return None


def number_refusal(error: Exception) -> str:
    """The reason for a number Python refused to convert (``int`` or ``Decimal``)."""
    if isinstance(error, decimal.DecimalException):
        return "not valid JSON: unrepresentable number (its exponent is out of range)"
    if "digits" in str(error):
        # int() refuses literals longer than sys.get_int_max_str_digits() (4300 by default);
        # its own message tells a programmer how to lift the limit, not what the file holds.
        return f"not valid JSON: an integer longer than {sys.get_int_max_str_digits()} digits"
    return f"not valid JSON: {error}"
