"""The metadata extracted from a JSON document: its top level, described in a few fields."""

from __future__ import annotations

from typing import Any

from .._exceptions import InvalidContentError

__all__ = ["MAX_JSON_KEYS", "MAX_KEY_CHARS", "shape"]

#: How many top-level keys are listed in the extracted metadata.
MAX_JSON_KEYS = 100
#: Longest top-level key listed; longer ones are cut, so metadata stays small.
MAX_KEY_CHARS = 256


def shape(
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
