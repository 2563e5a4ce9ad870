"""Media types: what a declared ``Content-Type`` names, and what the first bytes say.

Light on purpose (no parser behind it), so the SDK guesses a type the way the service
checks it. Sniffing comes before any parse, so that a JPEG uploaded as ``image/png``
fails with a reason a person understands rather than with a PNG decoder's complaint.
"""

from __future__ import annotations

import re

from ._buckets import BucketKinds
from ._exceptions import UnsupportedContentTypeError
from ._models import CONTENT_TYPES, ObjectKind

__all__ = [
    "HEAD_SIZE",
    "OPAQUE_DEFAULT_TYPE",
    "SNIFF_SIZE",
    "describe",
    "detect",
    "kind_for",
    "media_type",
    "sniff",
]

#: The content type of an opaque object uploaded without one.
OPAQUE_DEFAULT_TYPE = "application/octet-stream"
# An opaque object's type is kept as sent, so it must be a header value worth sending back:
# printable ASCII, of a length no registered media type (with parameters) comes near.
_OPAQUE_TYPE_RE = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?")

#: How many leading bytes ``detect`` needs to recognise every signature it knows.
HEAD_SIZE = 16

#: How many leading bytes ``sniff`` looks at: the signatures, and room for the whitespace a
#: pretty-printed JSON text may start with before its ``{`` or ``[``.
SNIFF_SIZE = 1024

# Signatures of formats Sangraha does not store are known too, so a mismatch can name them.
_DESCRIPTIONS = {
    "application/json": "a JSON document",
    "application/pdf": "a PDF document",
    "image/gif": "a GIF image",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/webp": "a WebP image",
    "application/zip": "a ZIP archive",
    "application/gzip": "a gzip archive",
    "image/bmp": "a BMP image",
    "image/tiff": "a TIFF image",
}


def detect(head: bytes) -> str | None:
    """The content type that the magic number at the start of ``head`` names, or ``None``.

    JSON has no magic number, so it is never detected; a JSON text cannot start with any of
    the signatures below, so ``None`` is the answer for every JSON document.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    if head.startswith(b"BM"):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def sniff(head: bytes) -> str | None:
    """The content type an upload sent without one (or with a generic one) is stored as,
    from its first bytes (``SNIFF_SIZE`` of them are enough), or ``None``.

    A signature ``detect`` knows names its type; a text whose first character past any
    whitespace is ``{`` or ``[`` is taken for JSON, which the worker then checks whole.
    PutObject and a multipart upload's completion both decide this way.
    """
    found = detect(head[:HEAD_SIZE])
    if found is None and head.lstrip()[:1] in (b"{", b"["):
        found = "application/json"
    return found


def describe(content_type: str) -> str:
    """A phrase naming a content type for messages: ``"a PNG image"``."""
    return _DESCRIPTIONS.get(content_type, content_type)


def media_type(content_type: str) -> tuple[str, ObjectKind]:
    """The bare, lowercased media type of a ``Content-Type`` value, and the kind it names.

    Parameters (``; charset=utf-8``) are ignored; an unknown type raises
    ``UnsupportedContentTypeError`` naming the accepted ones.
    """
    bare = content_type.split(";", 1)[0].strip().lower()
    try:
        return bare, CONTENT_TYPES[bare]
    except KeyError:
        accepted = ", ".join(CONTENT_TYPES)
        shown = repr(bare) if bare else "none"
        raise UnsupportedContentTypeError(
            f"unsupported Content-Type {shown}; use one of {accepted}"
        ) from None


def kind_for(content_type: str, kinds: BucketKinds) -> tuple[str, ObjectKind]:
    """The content type to store and the kind of an upload to a bucket with policy ``kinds``.

    A type Sangraha validates (``CONTENT_TYPES``) is that kind in any bucket, as its bare,
    lowercased media type. Any other type is refused (``UnsupportedContentTypeError``) by a
    ``validated`` bucket; an ``any`` bucket takes it as an opaque object whose content type
    is kept as sent (``application/octet-stream`` when none was).
    """
    if kinds is BucketKinds.VALIDATED:
        try:
            if not content_type.strip():
                raise UnsupportedContentTypeError(
                    f"a Content-Type is required; use one of {', '.join(CONTENT_TYPES)}"
                )
            return media_type(content_type)
        except UnsupportedContentTypeError as error:
            # Say where other files can go: the refusal is the bucket's policy, not the end.
            raise UnsupportedContentTypeError(
                f"{error}, or keep any other file in a bucket whose kind policy is 'any'"
            ) from None
    sent = content_type.strip()
    bare = sent.split(";", 1)[0].strip().lower()
    if bare in CONTENT_TYPES:
        return bare, CONTENT_TYPES[bare]
    if not sent:
        return OPAQUE_DEFAULT_TYPE, ObjectKind.OPAQUE
    if not _OPAQUE_TYPE_RE.fullmatch(sent):
        raise UnsupportedContentTypeError(
            "a Content-Type must be at most 255 printable ASCII characters"
        )
    return sent, ObjectKind.OPAQUE
