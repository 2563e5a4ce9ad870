"""One entry point: check the bytes against the declared type, then parse them for real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from .._exceptions import InvalidContentError
from .._media import HEAD_SIZE, describe, detect, media_type
from ._image import inspect_image
from ._json import inspect_json
from ._pdf import inspect_pdf
from ._reasons import parser_failure
from ._stream import Source

__all__ = ["inspect"]

_INSPECTORS: dict[str, Callable[[Source, str], dict[str, Any]]] = {
    "application/json": lambda source, _: inspect_json(source),
    "application/pdf": lambda source, _: inspect_pdf(source),
    "image/gif": inspect_image,
    "image/jpeg": inspect_image,
    "image/png": inspect_image,
    "image/webp": inspect_image,
}


def inspect(content_type: str, file: BinaryIO) -> dict[str, Any]:
    """Validate ``file`` as the declared ``content_type`` and return its system metadata.

    ``file`` is a seekable binary file at position 0, of any size: it is read in large
    pieces and never whole. Raises ``UnsupportedContentTypeError`` when the type names no
    kind Sangraha stores, ``InvalidContentError`` (with a reason) when the bytes are not a
    valid object of that type. Errors raised by ``file`` itself propagate unchanged, so a
    storage fault is never reported as bad content. The result is JSON-serialisable.
    """
    declared, _ = media_type(content_type)
    source = Source(file)
    try:
        head = source.read_at(0, HEAD_SIZE)
        found = detect(head)
        if found != (None if declared == "application/json" else declared):
            raise InvalidContentError(_mismatch(declared, found))
        source.seek(0)
        return _INSPECTORS[declared](source, declared)
    except InvalidContentError:
        if source.failure is not None:
            raise source.failure from None
        raise
    except (MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        # Parsers raise what they like on hostile input (OSError, SyntaxError, KeyError,
        # RecursionError, struct.error ...): all of it means "not valid", unless the
        # caller's file failed underneath them.
        if source.failure is not None:
            raise source.failure from None
        raise InvalidContentError(parser_failure(declared, exc)) from None
    finally:
        source.detach()


def _mismatch(declared: str, found: str | None) -> str:
    if found is None:
        return f"declared {declared} but the bytes are not {describe(declared)}"
    return f"declared {declared} but the bytes are {describe(found)}"
