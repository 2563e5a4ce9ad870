"""Magic numbers, and the public surface of sangraha_core.kinds."""

from __future__ import annotations

import io

import pytest

import sangraha_core.kinds
from sangraha_core import CONTENT_TYPES, UnsupportedContentTypeError
from sangraha_core.kinds import detect, inspect


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04", "application/zip"),
        (b'{"a": 1}', None),
        (b"[1]", None),
        (b"", None),
        (b"\x89PNG", None),
    ],
)
def test_detect(head: bytes, expected: str | None) -> None:
    assert detect(head) == expected


@pytest.mark.parametrize("content_type", ["text/plain", "image/svg+xml", "", "application/jsonx"])
def test_unsupported_types(content_type: str) -> None:
    with pytest.raises(UnsupportedContentTypeError):
        inspect(content_type, io.BytesIO(b"{}"))


def test_every_stored_type_is_inspected() -> None:
    for content_type in CONTENT_TYPES:
        with pytest.raises(ValueError, match=r"declared|not valid"):
            inspect(content_type.upper() + " ; q=1", io.BytesIO(b"\x00garbage"))


def test_exports_match_all() -> None:
    public = {name for name in dir(sangraha_core.kinds) if not name.startswith("_")}
    assert set(sangraha_core.kinds.__all__) == public


class _FailAfterFirst(io.BytesIO):
    """A store whose connection drops after the first read."""

    reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionResetError("blob store went away")
        return super().read(size)


@pytest.mark.parametrize("content_type", ["application/json", "image/png", "application/pdf"])
def test_a_failing_file_is_not_reported_as_invalid_content(content_type: str) -> None:
    data = {
        "application/json": b"[" + b"1," * 1_000_000 + b"1]",
        # A valid IHDR, then an IDAT chunk whose CRC can only be checked on a later read.
        "image/png": bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000001008020000")
        + bytes.fromhex("0090916836")
        + (3_000_000).to_bytes(4, "big")
        + b"IDAT"
        + b"\x00" * 3_000_000,
        "application/pdf": b"%PDF-1.7\n" + b"\x00" * 3_000_000,
    }[content_type]
    with pytest.raises(ConnectionResetError):
        inspect(content_type, _FailAfterFirst(data))
