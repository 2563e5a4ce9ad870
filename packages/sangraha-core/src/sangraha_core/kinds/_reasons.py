"""What a parser's error means, in Sangraha's words.

A failure reason is shown to whoever reads the object (``409 …/failed`` with ``reason``)
and stays on its record, so it must say what is wrong with the bytes, not which library
noticed it: no Python class names, no object reprs, no memory addresses. Errors whose
message is known are translated; a library error with an unknown message keeps that
message once cleaned; any other exception (a ``KeyError`` or ``TypeError`` from deep in
a parser fed hostile bytes) says only that the structure cannot be read, since its text
describes the parser, not the file.
"""

from __future__ import annotations

import re

from PIL import UnidentifiedImageError
from pypdf.errors import PyPdfError

from .._media import describe

__all__ = ["chunk_name", "parser_failure"]

#: The short names used in reasons ("corrupt PNG: ...").
_SHORT = {
    "application/pdf": "PDF",
    "image/gif": "GIF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
}
# Longest library message kept when nothing better is known.
_MAX_DETAIL = 200

# Pillow's messages (PIL/ImageFile.py and its plugins), first match wins.
_IMAGE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"truncated", re.IGNORECASE), "truncated {short}: the image data ends early"),
    (
        re.compile(r"broken data stream|cannot load this image|decoder error|failed to read"),
        "corrupt {short}: the image data cannot be decoded",
    ),
    (
        re.compile(r"codec configuration error"),
        "corrupt {short}: the image data's coding parameters are invalid",
    ),
    (re.compile(r"could not create decoder"), "corrupt {short}: the decoder refuses its header"),
)

# pypdf's messages, first match wins. ``{at}`` is " at byte N" when the message has one.
# Messages quoting the bytes they stopped at come first: the quote may hold any word.
_PDF_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^Invalid Elementary Object|^Could not read"),
        "corrupt PDF: an invalid object{at}",
    ),
    (re.compile(r"^Expecting a NameObject"), "corrupt PDF: a dictionary key is not a name{at}"),
    (re.compile(r"hex string"), "corrupt PDF: an invalid character in a hexadecimal string"),
    (re.compile(r"Stream has ended unexpectedly"), "truncated PDF: the data ends inside an object"),
    (
        re.compile(r"startxref not found"),
        "corrupt PDF: no startxref (the pointer to its cross-reference table)",
    ),
    (
        re.compile(r"xref|cross.?reference", re.IGNORECASE),
        "corrupt PDF: the cross-reference table cannot be read",
    ),
    (re.compile(r"Root object|/Root|Catalog"), "corrupt PDF: no document catalogue (/Root)"),
    (re.compile(r"trailer", re.IGNORECASE), "corrupt PDF: no usable trailer"),
    (re.compile(r"in /Pages|page tree", re.IGNORECASE), "corrupt PDF: the page tree is invalid"),
    (re.compile(r"loop|self reference", re.IGNORECASE), "corrupt PDF: an object refers to itself"),
    (
        re.compile(r"exceeds allowed limit|limit", re.IGNORECASE),
        "PDF refused: a part of it is larger than the parser's limits",
    ),
)
_AT = re.compile(r"@(\d+)")

# Cleaning an unknown library message: object reprs and addresses go, ids of indirect
# objects keep their number and generation only.
_REPR = re.compile(r"<[^<>]*>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_INDIRECT = re.compile(r"IndirectObject\((\d+), (\d+), \d+\)")


def chunk_name(kind: bytes) -> str:
    """A four-byte chunk type for a reason: ``IDAT``, or its bytes in hex if unprintable
    (``00 FF 41 42``)."""
    if all(0x20 < byte < 0x7F for byte in kind):
        return kind.decode("ascii")
    return kind.hex(" ").upper()


def _clean(message: str) -> str:
    text = _INDIRECT.sub(r"object \1 \2", message)
    text = _ADDRESS.sub("", _REPR.sub("", text))
    text = " ".join(text.split()).rstrip(" .:!")
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return text


def parser_failure(declared: str, error: BaseException) -> str:
    """The reason for ``error``, raised by a parser reading bytes declared ``declared``."""
    short = _SHORT.get(declared, declared)
    message = str(error)
    if isinstance(error, RecursionError):
        return f"corrupt {short}: its structure is nested too deeply to read"
    if isinstance(error, UnidentifiedImageError):
        return f"not {describe(declared)}: the bytes match no image format"
    if declared.startswith("image/") and isinstance(error, OSError | SyntaxError | ValueError):
        for pattern, reason in _IMAGE_MESSAGES:
            if pattern.search(message):
                return reason.format(short=short)
        detail = _clean(message)
        return f"corrupt {short}: {detail}" if detail else f"corrupt {short}: it cannot be decoded"
    if isinstance(error, PyPdfError):
        found = _AT.search(message)
        at = f" at byte {found.group(1)}" if found else ""
        for pattern, reason in _PDF_MESSAGES:
            if pattern.search(message):
                return reason.format(at=at)
        detail = _clean(message)
        return f"corrupt PDF: {detail}" if detail else "corrupt PDF: its structure cannot be read"
    return f"corrupt {short}: its structure cannot be read"
