"""S3's request documents (CompleteMultipartUpload, Delete, CreateBucketConfiguration), parsed.

A body is anyone's XML, so it is parsed by :mod:`defusedxml` with no DTD at all (S3's
documents never carry one: that refuses entity bombs and external entities before any
expansion), under a byte limit the caller gives, a depth limit and an element count
fitting the document. Every refusal is ``S3Error("MalformedXML", ...)`` saying what is
wrong, except a part number outside 1-10000, which S3 answers ``InvalidArgument``.

Elements are matched by local name, so a body with S3's namespace, another one or none
reads the same; elements S3 documents but the gateway has no use for are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser

from ._errors import S3Error

__all__ = [
    "MAX_DELETE_OBJECTS",
    "MAX_PART_NUMBER",
    "CompletedPart",
    "ObjectToDelete",
    "parse_complete_multipart_upload",
    "parse_create_bucket_configuration",
    "parse_delete",
]

#: S3's most objects in one DeleteObjects request.
MAX_DELETE_OBJECTS = 1000
#: S3's highest part number.
MAX_PART_NUMBER = 10_000

#: ASCII digits only: ``int`` would also take ``+5``, ``1_0`` and other scripts' digits.
_DIGITS = re.compile("[0-9]{1,9}")
#: The deepest any of these documents goes is three (Delete/Object/Key); a little room.
_MAX_DEPTH = 8
#: Children one Part or Object may hold: its fields, S3's checksums and room for new ones.
_FIELDS_PER_ENTRY = 24


@dataclass(frozen=True)
class CompletedPart:
    """One ``<Part>`` of CompleteMultipartUpload, in the order given.

    :param etag: without its quotes.
    :param checksums: ``CRC32``, ``CRC32C``, ``CRC64NVME``, ``SHA1``, ``SHA256``... (from
        ``<ChecksumCRC32>`` and the like) to the base64 value the client sent.
    """

    part_number: int
    etag: str
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectToDelete:
    """One ``<Object>`` of a Delete request; the key is exactly as sent (not stripped)."""

    key: str
    version_id: str | None = None


def parse_complete_multipart_upload(body: bytes, *, max_bytes: int) -> list[CompletedPart]:
    """The parts of a CompleteMultipartUpload body; their order is the caller's to check."""
    root = _parse(body, "CompleteMultipartUpload", max_bytes, MAX_PART_NUMBER)
    parts: list[CompletedPart] = []
    for element in root:
        if _local(element.tag) != "Part":
            continue
        fields = _children(element)
        number_text = fields.get("PartNumber")
        etag = fields.get("ETag")
        if number_text is None or etag is None:
            raise S3Error("MalformedXML", "each Part needs a PartNumber and an ETag")
        if not _DIGITS.fullmatch(number_text.strip()):
            raise S3Error("MalformedXML", f"PartNumber {number_text!r} is not a number")
        number = int(number_text.strip())
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            )
        checksums = {
            name.removeprefix("Checksum"): value.strip()
            for name, value in fields.items()
            if name.startswith("Checksum") and name != "ChecksumType"
        }
        parts.append(CompletedPart(number, etag.strip().strip('"'), checksums))
    if not parts:
        raise S3Error("MalformedXML", "CompleteMultipartUpload names no Part")
    return parts


def parse_delete(body: bytes, *, max_bytes: int) -> tuple[bool, list[ObjectToDelete]]:
    """``(quiet, objects)`` of a DeleteObjects body: 1 to 1000 objects, in the order given."""
    root = _parse(body, "Delete", max_bytes, MAX_DELETE_OBJECTS)
    quiet = False
    objects: list[ObjectToDelete] = []
    for element in root:
        name = _local(element.tag)
        if name == "Quiet":
            text = (element.text or "").strip().lower()
            if text not in ("true", "false"):
                raise S3Error("MalformedXML", f"Quiet must be true or false, not {text!r}")
            quiet = text == "true"
        elif name == "Object":
            fields = _children(element)
            key = fields.get("Key")
            if key is None:
                raise S3Error("MalformedXML", "each Object needs a Key")
            objects.append(ObjectToDelete(key, fields.get("VersionId") or None))
            if len(objects) > MAX_DELETE_OBJECTS:
                raise S3Error(
                    "MalformedXML", f"a Delete names at most {MAX_DELETE_OBJECTS} objects"
                )
    if not objects:
        raise S3Error("MalformedXML", "Delete names no Object")
    return quiet, objects


def parse_create_bucket_configuration(body: bytes, *, max_bytes: int) -> str | None:
    """The LocationConstraint of a CreateBucket body; None for no body or no constraint."""
    if not body.strip():
        return None
    # Room for the Tags (50 at most) a configuration may carry besides the constraint.
    root = _parse(body, "CreateBucketConfiguration", max_bytes, 64)
    for element in root:
        if _local(element.tag) == "LocationConstraint":
            return (element.text or "").strip() or None
    return None


class _Limits(Exception):
    """A document past the depth or element limit; raised from inside the parser."""


class _LimitedBuilder:
    """An ElementTree builder that stops a document past ``max_elements`` or ``_MAX_DEPTH``."""

    def __init__(self, max_elements: int) -> None:
        self._builder = TreeBuilder()
        self._left = max_elements
        self._depth = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._left -= 1
        self._depth += 1
        if self._left < 0:
            raise _Limits("the document has too many elements")
        if self._depth > _MAX_DEPTH:
            raise _Limits(f"the document nests deeper than {_MAX_DEPTH} elements")
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> Element:
        return self._builder.close()


def _parse(body: bytes, root_name: str, max_bytes: int, entries: int) -> Element:
    if len(body) > max_bytes:
        raise S3Error("MalformedXML", f"the {root_name} body is over {max_bytes} bytes")
    if not body.strip():
        raise S3Error("MalformedXML", f"the {root_name} body is empty")
    builder = _LimitedBuilder(2 + entries * (1 + _FIELDS_PER_ENTRY))
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    try:
        parser.feed(body)
        root: Any = parser.close()
    except DTDForbidden:
        raise S3Error("MalformedXML", "the body declares a DTD; S3 documents carry none") from None
    except DefusedXmlException as error:
        raise S3Error("MalformedXML", f"the body uses entities: {error}") from None
    except _Limits as error:
        raise S3Error("MalformedXML", str(error)) from None
    except ParseError as error:
        raise S3Error("MalformedXML", f"the body is not well-formed XML: {error}") from None
    assert isinstance(root, Element)
    if _local(root.tag) != root_name:
        raise S3Error("MalformedXML", f"the root element is {_local(root.tag)}, not {root_name}")
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element) -> dict[str, str]:
    """Each child's text by local name (the first of a repeated one); nested ones are refused."""
    fields: dict[str, str] = {}
    for child in element:
        if len(child):
            raise S3Error("MalformedXML", f"{_local(child.tag)} holds elements; it takes text")
        fields.setdefault(_local(child.tag), child.text or "")
    return fields
