"""Small, real files of each kind, made on the fly."""

from __future__ import annotations

import io
import zlib

from PIL import Image
from pypdf import PdfWriter


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


def png_with_bad_crc() -> bytes:
    data = bytearray(png())
    # The IHDR chunk's CRC sits at bytes 29..32; flip one bit of it.
    data[29] ^= 0x01
    assert zlib.crc32(bytes(data[12:29])) != int.from_bytes(data[29:33], "big")
    return bytes(data)


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]
