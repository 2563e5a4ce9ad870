"""Small, real files of each kind, made on the fly."""

from __future__ import annotations

import io
import zlib

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject


def png(width: int = 32, height: int = 24, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def pdf(pages: int = 2, title: str = "Quarterly report", author: str = "Ann") -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": title, "/Author": author})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_text(
    lines: list[str], title: str = "Text report", password: str | None = None
) -> bytes:
    """A PDF of one page per line of text, set in Helvetica (a standard font, not embedded),
    with a filled bar under it whose width grows with the page number; sealed with
    ``password`` (as the user password) when one is given."""
    writer = PdfWriter()
    helvetica = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for number, line in enumerate(lines, start=1):
        page = writer.add_blank_page(width=300, height=200)
        fonts = DictionaryObject({NameObject("/F1"): helvetica})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        content = ContentStream(None, None)
        content.set_data(
            f"BT /F1 28 Tf 20 120 Td ({escaped}) Tj ET 0 0 0 rg 20 40 {40 * number} 30 re f".encode(
                "latin-1"
            )
        )
        page.replace_contents(content)
    writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_with_bad_crc() -> bytes:
    data = bytearray(png())
    # The IHDR chunk's CRC sits at bytes 29..32; flip one bit of it.
    data[29] ^= 0x01
    assert zlib.crc32(bytes(data[12:29])) != int.from_bytes(data[29:33], "big")
    return bytes(data)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]
