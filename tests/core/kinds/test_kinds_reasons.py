"""Failure reasons are in Sangraha's words: what is wrong with the bytes, never which Python
class noticed it, an object's repr or a memory address."""

from __future__ import annotations

import io
import random
import re
import struct
import zlib

import pytest
from PIL import Image, UnidentifiedImageError
from pypdf import PdfWriter
from pypdf.errors import PdfReadError, PdfStreamError

from sangraha_core import InvalidContentError
from sangraha_core.kinds import inspect
from sangraha_core.kinds._reasons import chunk_name, parser_failure

#: What a leaked internal looks like: a class name, a repr, an address, a bytes literal.
_LEAK = re.compile(r"[A-Z][a-z]+Error|<[^>]*>|\b0x[0-9a-f]{6,}|\bb'|\bb\"|IndirectObject")


def _encode(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 7) % 256, (y * 13) % 256, (x * y) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
    )
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _refused(content_type: str, data: bytes) -> str:
    with pytest.raises(InvalidContentError) as info:
        inspect(content_type, io.BytesIO(data))
    return info.value.reason


def test_truncated_jpeg() -> None:
    data = _encode("JPEG")
    assert _refused("image/jpeg", data[: len(data) * 6 // 10]) == (
        "truncated JPEG: the image data ends early"
    )


def test_truncated_gif_data_before_its_trailer() -> None:
    data = _encode("GIF")
    assert _refused("image/gif", data[: len(data) * 6 // 10] + b";") == (
        "truncated GIF: the image data ends early"
    )


def test_gif_whose_header_no_decoder_reads() -> None:
    data = _encode("GIF")
    # The signature is right (so it is taken for a GIF), the screen descriptor is not.
    broken = data[:10] + b"\x00" * 3 + data[13:]
    assert _refused("image/gif", broken) == "not a GIF image: the bytes match no image format"


def test_pdf_without_startxref() -> None:
    reason = _refused("application/pdf", _pdf().replace(b"startxref", b"startxrex"))
    assert reason == "corrupt PDF: no startxref (the pointer to its cross-reference table)"


def test_pdf_without_a_catalogue() -> None:
    data = _pdf().replace(b"/Root", b"/Rooo").replace(b"/Catalog", b"/Catalug")
    assert _refused("application/pdf", data) == "corrupt PDF: no document catalogue (/Root)"


def test_png_chunk_names_are_text_not_bytes_literals() -> None:
    data = _encode("PNG")
    reason = _refused("image/png", data[: len(data) - 30])
    assert reason == "truncated PNG: chunk IDAT is cut short"
    assert chunk_name(b"IDAT") == "IDAT"
    assert chunk_name(b"\x00\xffAB") == "00 FF 41 42"


def test_png_with_a_chunk_cut_before_its_crc() -> None:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    data += struct.pack(">I", 4) + b"IDAT" + b"\x00\x00\x00\x00"
    assert _refused("image/png", data) == "truncated PNG: chunk IDAT has no CRC"


@pytest.mark.parametrize(
    ("declared", "error", "reason"),
    [
        (
            "image/png",
            UnidentifiedImageError("cannot identify image file <Source object at 0x7f3a2c>"),
            "not a PNG image: the bytes match no image format",
        ),
        (
            "image/jpeg",
            OSError("image file is truncated (3 bytes not processed)"),
            "truncated JPEG: the image data ends early",
        ),
        (
            "image/gif",
            OSError("broken data stream when reading image file"),
            "corrupt GIF: the image data cannot be decoded",
        ),
        ("image/webp", OSError("could not create decoder object"), None),
        ("image/png", SyntaxError("broken PNG file <PngStream at 0xdeadbeef>"), None),
        ("application/pdf", PdfReadError("startxref not found"), None),
        (
            "application/pdf",
            PdfReadError(
                "Invalid Elementary Object starting with b'\\x81' @101: b'/Root 3 0 R xref'"
            ),
            "corrupt PDF: an invalid object at byte 101",
        ),
        (
            "application/pdf",
            PdfReadError("Expecting a NameObject for key but found IndirectObject(2, 0, 1397511)"),
            "corrupt PDF: a dictionary key is not a name",
        ),
        (
            "application/pdf",
            PdfStreamError("Stream has ended unexpectedly"),
            "truncated PDF: the data ends inside an object",
        ),
        (
            "application/pdf",
            PdfReadError("Unusual thing at IndirectObject(7, 0, 13975) in <Obj at 0x7f00aa>"),
            "corrupt PDF: Unusual thing at object 7 0 in",
        ),
        (
            "application/pdf",
            TypeError('can only concatenate str (not "int") to str'),
            "corrupt PDF: its structure cannot be read",
        ),
        (
            "image/png",
            KeyError("tRNS"),
            "corrupt PNG: its structure cannot be read",
        ),
        (
            "application/pdf",
            RecursionError("maximum recursion depth exceeded"),
            "corrupt PDF: its structure is nested too deeply to read",
        ),
    ],
)
def test_parser_errors_are_translated(
    declared: str, error: BaseException, reason: str | None
) -> None:
    got = parser_failure(declared, error)
    if reason is not None:
        assert got == reason
    assert not _LEAK.search(got), got
    assert type(error).__name__ not in got


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        ("image/png", "PNG"),
        ("image/jpeg", "JPEG"),
        ("image/gif", "GIF"),
        ("image/webp", "WEBP"),
        ("application/pdf", None),
    ],
)
def test_no_reason_for_damaged_files_leaks_internals(content_type: str, fmt: str | None) -> None:
    """Cuts, flipped bytes and dropped runs of a valid file: every reason stays clean."""
    data = _pdf() if fmt is None else _encode(fmt)
    rng = random.Random(f"reasons-{content_type}")
    damaged = [data[: len(data) * k // 20] for k in range(1, 20)]
    for _ in range(60):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        damaged.append(bytes(flipped))
        at = rng.randrange(len(data))
        damaged.append(data[:at] + data[at + rng.randint(1, 100) :])
    reasons = set()
    for sample in damaged:
        try:
            inspect(content_type, io.BytesIO(sample))
        except InvalidContentError as exc:
            reasons.add(exc.reason)
    assert reasons
    leaked = sorted(reason for reason in reasons if _LEAK.search(reason))
    assert not leaked
