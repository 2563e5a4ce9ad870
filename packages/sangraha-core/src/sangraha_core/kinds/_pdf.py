"""PDF: header and end marker checked on the bytes, then a real parse with pypdf.

pypdf reads the cross-reference table (or stream) from the end of the file, the trailer,
the catalogue and the page tree; the page count comes from walking that tree, so a file
whose structure is broken is refused even when its first bytes say ``%PDF``. Content
streams are never decoded, so memory follows the size of the structure, not of the file.

Lenient parsing (``strict=False``) lets the many slightly irregular PDFs that real
producers write through. When it has to rebuild a broken cross-reference table pypdf
reads the whole file, which the ``Source`` refuses above its bound: a large damaged PDF is
refused rather than loaded.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from pypdf import PasswordType, PdfReader

from .._exceptions import InvalidContentError
from ._stream import Source

__all__ = ["inspect_pdf"]

_HEADER = re.compile(rb"%PDF-(\d\.\d)")
# The specification puts %%EOF at the end; producers add line ends, spaces or NULs after it.
_TAIL = 1024
# Title and author are user-controlled; keep the metadata record small.
_MAX_TEXT = 1024


def inspect_pdf(source: Source) -> dict[str, Any]:
    """Validate ``source`` as a PDF and describe it."""
    header = _HEADER.match(source.read_at(0, 16))
    if header is None:
        raise InvalidContentError("not a PDF: no %PDF-x.y header")
    start = max(0, source.size - _TAIL)
    if b"%%EOF" not in source.read_at(start, _TAIL):
        raise InvalidContentError("truncated PDF: no %%EOF marker at the end of the file")
    source.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = PdfReader(source, strict=False)
        encrypted = reader.is_encrypted
        readable = True
        if encrypted:
            readable = _decrypt(reader)
        pages = len(reader.pages) if readable else None
        if readable and pages == 0:
            raise InvalidContentError("not a PDF: the page tree has no pages")
        title, author = _info(reader) if readable else (None, None)
    return {
        "pages": pages,
        "title": title,
        "author": author,
        "encrypted": encrypted,
        "pdf_version": header.group(1).decode("ascii"),
    }


def _decrypt(reader: PdfReader) -> bool:
    """Open with the empty user password, as viewers do; False when a password is needed."""
    try:
        return bool(reader.decrypt("") != PasswordType.NOT_DECRYPTED)
    except Exception:
        # An unsupported algorithm or a missing crypto library: still a PDF, just sealed.
        return False


def _info(reader: PdfReader) -> tuple[str | None, str | None]:
    info = reader.metadata
    if info is None:
        return None, None
    return _text(info.get("/Title")), _text(info.get("/Author"))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_object"):
        value = value.get_object()
    if not isinstance(value, str):
        return None
    return value[:_MAX_TEXT]
