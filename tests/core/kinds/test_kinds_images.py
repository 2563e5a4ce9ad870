"""Images: valid files described, hostile ones refused with a reason, nothing decoded early."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from sangraha_core import InvalidContentError
from sangraha_core.kinds import MAX_IMAGE_PIXELS, inspect


def _encode(
    fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB", **params: object
) -> bytes:
    image = Image.new(mode, size, (10, 120, 200) if mode == "RGB" else 7)
    # A pattern, not a flat colour: the encoded data is long enough that a cut lands in it.
    image.putdata(
        [
            ((x * 7) % 256, (y * 13) % 256, (x * y) % 256)
            for y in range(size[1])
            for x in range(size[0])
        ]
        if mode == "RGB"
        else [(x + y) % 256 for y in range(size[1]) for x in range(size[0])]
    )
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _animated(fmt: str, frames: int = 3) -> bytes:
    images = [Image.new("RGB", (32, 32), (i * 60, 0, 255 - i * 60)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, fmt, save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def _run(content_type: str, data: bytes) -> dict[str, object]:
    return inspect(content_type, io.BytesIO(data))


def _refused(content_type: str, data: bytes) -> str:
    with pytest.raises(InvalidContentError) as info:
        _run(content_type, data)
    return info.value.reason


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [("image/png", "PNG"), ("image/jpeg", "JPEG"), ("image/gif", "GIF"), ("image/webp", "WEBP")],
)
def test_valid_images_are_described(content_type: str, fmt: str) -> None:
    result = _run(content_type, _encode(fmt))
    assert result["format"] == fmt
    assert (result["width"], result["height"]) == (64, 48)
    assert result["frames"] == 1
    assert result["animated"] is False
    assert isinstance(result["mode"], str)


@pytest.mark.parametrize(("content_type", "fmt"), [("image/gif", "GIF"), ("image/webp", "WEBP")])
def test_animations_count_frames(content_type: str, fmt: str) -> None:
    result = _run(content_type, _animated(fmt, frames=4))
    assert result["frames"] == 4
    assert result["animated"] is True


def test_grayscale_png_mode() -> None:
    assert _run("image/png", _encode("PNG", mode="L"))["mode"] == "L"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_bomb_is_refused_from_its_header_alone() -> None:
    # 100000 x 100000 pixels declared, a few bytes of data: decoding would need 30 GB.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    assert "decompression bomb" in _refused("image/png", data)


def test_image_just_over_the_limit_is_refused_without_a_warning() -> None:
    side = int(MAX_IMAGE_PIXELS**0.5) + 1
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")
    assert "too large" in _refused("image/png", data)


def test_gif_bomb_is_refused() -> None:
    data = bytearray(_encode("GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    assert "decompression bomb" in _refused("image/gif", bytes(data))


def test_webp_bomb_is_refused() -> None:
    data = bytearray(_encode("WEBP", lossless=True))
    assert data[12:16] == b"VP8L"
    bits = (16383) | (16383 << 14)
    data[21:25] = (bits | (int.from_bytes(data[21:25], "little") & ~0xFFFFFFF)).to_bytes(
        4, "little"
    )
    assert "decompression bomb" in _refused("image/webp", bytes(data))


def test_jpeg_bomb_is_refused() -> None:
    data = bytearray(_encode("JPEG"))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    assert "decompression bomb" in _refused("image/jpeg", bytes(data))


def test_png_with_a_bad_crc_is_refused() -> None:
    data = bytearray(_encode("PNG"))
    idat = data.find(b"IDAT")
    data[idat + 10] ^= 0xFF  # one byte of image data; its CRC no longer matches
    assert "bad CRC in the IDAT chunk" in _refused("image/png", bytes(data))


def test_png_with_trailing_bytes_is_refused() -> None:
    assert "after the PNG" in _refused("image/png", _encode("PNG") + b"PK\x03\x04zip")


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [("image/png", "PNG"), ("image/jpeg", "JPEG"), ("image/gif", "GIF"), ("image/webp", "WEBP")],
)
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_images_are_refused(content_type: str, fmt: str, keep: float) -> None:
    data = _encode(fmt, size=(128, 96))
    reason = _refused(content_type, data[: int(len(data) * keep)])
    assert reason


@pytest.mark.parametrize("marker", [b"\xff\xc4", b"\xff\xda"])
def test_jpeg_with_corrupt_tables_is_refused(marker: bytes) -> None:
    data = bytearray(_encode("JPEG", size=(128, 96)))
    at = data.find(marker)
    data[at + 6 : at + 14] = b"\xff" * 8  # Huffman table / scan header overwritten
    assert _refused("image/jpeg", bytes(data)) == "corrupt JPEG: the image data cannot be decoded"


def test_jpeg_declared_as_png_is_named() -> None:
    reason = _refused("image/png", _encode("JPEG"))
    assert reason == "declared image/png but the bytes are a JPEG image"


def test_zip_declared_as_png_is_named() -> None:
    reason = _refused("image/png", b"PK\x03\x04" + b"\x00" * 100)
    assert reason == "declared image/png but the bytes are a ZIP archive"


def test_garbage_declared_as_png() -> None:
    reason = _refused("image/png", b"hello, not an image at all")
    assert reason == "declared image/png but the bytes are not a PNG image"


def test_empty_file_declared_as_gif() -> None:
    assert "not a GIF image" in _refused("image/gif", b"")


def test_png_header_then_garbage() -> None:
    assert _refused("image/png", b"\x89PNG\r\n\x1a\n" + b"\x13" * 200)


def test_webp_riff_size_must_match_the_file() -> None:
    data = _encode("WEBP")
    assert "after the WebP data" in _refused("image/webp", data + b"\x00\x00")


def _png(width: int, height: int, rows: bytes, *, colour: int = 0, interlace: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def test_png_whose_complete_image_data_holds_too_few_rows_is_refused() -> None:
    # Every CRC is right and the zlib stream ends cleanly: only the row count is wrong.
    data = _png(8192, 8192, b"".join(b"\x00" + b"\x80" * 8192 for _ in range(10)))
    reason = _refused("image/png", data)
    assert "truncated PNG: the image data holds 81930 of the 67117056 bytes" in reason


def test_png_with_more_rows_than_declared_is_refused() -> None:
    data = _png(4, 2, b"".join(b"\x00" + b"\x01" * 4 for _ in range(3)))
    assert "more than the 10 bytes" in _refused("image/png", data)


def test_png_with_exactly_its_rows_is_accepted() -> None:
    assert _run("image/png", _png(4, 3, b"".join(b"\x00" + b"\x01" * 4 for _ in range(3))))


def test_interlaced_png_is_counted_per_pass() -> None:
    # 3x5 grey in Adam7: passes of 1x1, none, 1x1, 1x2, 2x1, 1x3 and 3x2 pixels, each row
    # with its filter byte: 15 pixels and 10 rows, 25 bytes.
    assert _run("image/png", _png(3, 5, b"\x00" * 25, interlace=1))["height"] == 5
    assert "holds 24 of the 25 bytes" in _refused(
        "image/png", _png(3, 5, b"\x00" * 24, interlace=1)
    )
