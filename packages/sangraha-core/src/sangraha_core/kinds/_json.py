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

Two paths give the same answers. Documents are validated by calling yajl directly (the
very library ijson's C backend loads), which calls back into Python only for containers
and the top level; ijson's events, which cost a Python object per token, are the path
taken only when yajl cannot be loaded through ctypes.
"""

from __future__ import annotations

from typing import Any

from ._json_direct import DirectParse
from ._json_events import inspect_events
from ._json_limits import MAX_JSON_DEPTH, MAX_JSON_TOKEN
from ._json_shape import MAX_JSON_KEYS
from ._stream import Source
from ._yajl import load_yajl

__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_KEYS", "MAX_JSON_TOKEN", "inspect_json"]

_YAJL = load_yajl()


def inspect_json(source: Source) -> dict[str, Any]:
    """Validate ``source`` as one strict JSON text and describe its top level."""
    if _YAJL is not None:
        return DirectParse(_YAJL).inspect(source)
    return inspect_events(source)
