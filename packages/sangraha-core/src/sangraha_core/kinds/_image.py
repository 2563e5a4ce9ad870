"""Images (PNG, JPEG, GIF, WebP): dimensions from the header first, then a full decode.

Order matters for hostile input:

1. The width and height are read from the format's header by this module, not by
   Pillow, and checked against ``MAX_IMAGE_PIXELS`` before Pillow sees the file. A
   decompression bomb is refused without decoding a pixel, and Pillow never reaches its
   own bomb warning (our limit sits below its default).
2. Structure Pillow does not check is checked here, streaming: every PNG chunk's CRC
   (Pillow skips the CRCs of image data), the RIFF size of a WebP against the file size,
   the GIF trailer. A PNG's image data is inflated here too, counted and dropped piece by
   piece, and must hold exactly the scanlines its header declares: Pillow takes the end
   of the zlib stream for the end of the image and fills the missing rows in silently.
3. Every frame is decoded, so truncated or corrupt pixel data is found. One frame's decode
   is bounded by the pixel limit, checked again for each frame before it is decoded (at
   most 4 bytes a pixel: 256 MiB at 64 megapixels), and all frames together by
   ``MAX_ANIMATION_PIXELS``, which bounds the time.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from typing import Any

from PIL import Image

from .._exceptions import InvalidContentError
from ._reasons import chunk_name
from ._stream import Source

__all__ = [
    "MAX_ANIMATION_PIXELS",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_WEBP_SIZE",
    "inspect_image",
]

#: Largest frame accepted, in pixels (width times height).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
#: Longest side accepted, in pixels: JPEG's and GIF's own maximum. A WebP canvas may
#: declare 16 million pixels a side, and decoding a few 8x8 frames onto a canvas 8 million
#: pixels wide and 8 high takes libwebp minutes.
MAX_IMAGE_SIDE = 65535
#: Largest total of pixels over all the frames of an animation.
MAX_ANIMATION_PIXELS = 16 * MAX_IMAGE_PIXELS
#: Largest WebP file: libwebp, through Pillow, needs the whole file in memory.
MAX_WEBP_SIZE = 64 * 1024 * 1024

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
_PIECE = 1024 * 1024
# JPEG start-of-frame markers: every SOFn except DHT (C4), JPG (C8) and DAC (CC).
# Headers (EXIF, ICC profiles split in 64 KiB pieces) take a few segments, never thousands.
_MAX_JPEG_SEGMENTS = 4096
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def inspect_image(source: Source, content_type: str) -> dict[str, Any]:
    """Validate ``source`` as the image type declared and describe it."""
    fmt = _FORMATS[content_type]
    width, height = _HEADER_SIZE[fmt](source)
    limit = MAX_IMAGE_PIXELS
    if Image.MAX_IMAGE_PIXELS is not None:
        limit = min(limit, Image.MAX_IMAGE_PIXELS)
    if width <= 0 or height <= 0:
        raise InvalidContentError(f"the {fmt} header declares an empty image ({width}x{height})")
    if width * height > limit:
        raise InvalidContentError(
            f"image too large: {width}x{height} is {width * height} pixels, "
            f"the limit is {limit} (a possible decompression bomb)"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise InvalidContentError(
            f"image too large: {width}x{height} has a side longer than {MAX_IMAGE_SIDE} pixels"
        )
    _STRUCTURE[fmt](source)
    source.seek(0)
    # Pillow warns about odd but readable files; none of it changes the verdict, and
    # warnings must not escape to callers that turn them into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _decode(source, fmt, limit)


def _decode(source: Source, fmt: str, limit: int) -> dict[str, Any]:
    with Image.open(source, formats=[fmt]) as image:
        width, height = image.size
        if width * height > limit:
            raise InvalidContentError(f"image too large: {width}x{height} pixels")
        mode = image.mode
        frames = pixels = 0
        while True:
            # Pillow grows the canvas for a GIF frame that reaches past the logical screen,
            # so every frame's size is checked again before it is decoded.
            frame_width, frame_height = image.size
            if frame_width * frame_height > limit or max(image.size) > MAX_IMAGE_SIDE:
                raise InvalidContentError(
                    f"image too large: frame {frames + 1} is {frame_width}x{frame_height} "
                    f"pixels, the limit is {limit} (a possible decompression bomb)"
                )
            pixels += frame_width * frame_height
            if pixels > MAX_ANIMATION_PIXELS:
                raise InvalidContentError(
                    f"animation too large: more than {MAX_ANIMATION_PIXELS} pixels in all"
                )
            image.load()
            frames += 1
            try:
                image.seek(frames)
            except EOFError:
                break
    return {
        "format": fmt,
        "width": width,
        "height": height,
        "mode": mode,
        "frames": frames,
        "animated": frames > 1,
    }


def _need(data: bytes, size: int, what: str) -> bytes:
    if len(data) < size:
        raise InvalidContentError(f"truncated {what}")
    return data


def _png_size(source: Source) -> tuple[int, int]:
    head = _need(source.read_at(8, 25), 25, "PNG header")
    length, kind = struct.unpack(">I4s", head[:8])
    if kind != b"IHDR" or length != 13:
        raise InvalidContentError("the PNG does not start with an IHDR chunk")
    width, height = struct.unpack(">II", head[8:16])
    return int(width), int(height)


def _gif_size(source: Source) -> tuple[int, int]:
    head = _need(source.read_at(6, 4), 4, "GIF header")
    width, height = struct.unpack("<HH", head)
    return int(width), int(height)


def _jpeg_size(source: Source) -> tuple[int, int]:
    offset = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        marker = _need(source.read_at(offset, 4), 4, "JPEG (no frame header)")
        if marker[0] != 0xFF:
            raise InvalidContentError(f"corrupt JPEG: no marker at byte {offset}")
        if marker[1] == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        code = marker[1]
        if code in (0xD8, 0xD9, 0xDA) or 0xD0 <= code <= 0xD7:
            raise InvalidContentError("corrupt JPEG: image data before a frame header")
        length = int.from_bytes(marker[2:4], "big")
        if length < 2:
            raise InvalidContentError(f"corrupt JPEG: bad segment length at byte {offset}")
        if code in _SOF:
            frame = _need(source.read_at(offset + 4, 5), 5, "JPEG frame header")
            height, width = struct.unpack(">HH", frame[1:5])
            return int(width), int(height)
        offset += 2 + length
    raise InvalidContentError(f"corrupt JPEG: no frame header in {_MAX_JPEG_SEGMENTS} segments")


def _webp_size(source: Source) -> tuple[int, int]:
    head = _need(source.read_at(12, 18), 18, "WebP header")
    kind = head[:4]
    if kind == b"VP8X":
        width = 1 + int.from_bytes(head[12:15], "little")
        height = 1 + int.from_bytes(head[15:18], "little")
    elif kind == b"VP8L":
        if head[8] != 0x2F:
            raise InvalidContentError("corrupt WebP: bad lossless signature")
        bits = int.from_bytes(head[9:13], "little")
        width = 1 + (bits & 0x3FFF)
        height = 1 + ((bits >> 14) & 0x3FFF)
    elif kind == b"VP8 ":
        if head[11:14] != b"\x9d\x01\x2a":
            raise InvalidContentError("corrupt WebP: bad lossy start code")
        width = int.from_bytes(head[14:16], "little") & 0x3FFF
        height = int.from_bytes(head[16:18], "little") & 0x3FFF
    else:
        raise InvalidContentError(f"corrupt WebP: unknown first chunk {chunk_name(kind)}")
    return width, height


#: Adam7's passes: first column, first row, column step, row step.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
#: Samples a pixel of each PNG colour type has.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _png_scanline_bytes(ihdr: bytes) -> int:
    """How many bytes the IHDR's image inflates to: each scanline and its filter byte."""
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    channels = _PNG_CHANNELS.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise InvalidContentError(f"corrupt PNG: colour type {colour} at bit depth {depth}")
    bits = depth * channels
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and rows:
            total += rows * (1 + (columns * bits + 7) // 8)
    return total


class _Inflated:
    """The size of a PNG's inflated image data, never holding more than one piece of it."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.size = 0
        self._zlib = zlib.decompressobj()

    def feed(self, data: bytes) -> None:
        while data:
            if self._zlib.eof:
                raise InvalidContentError("corrupt PNG: image data after its zlib stream ended")
            try:
                self.size += len(self._zlib.decompress(data, _PIECE))
            except zlib.error as exc:
                raise InvalidContentError(f"corrupt PNG: bad image data ({exc})") from None
            if self.size > self.expected:
                raise InvalidContentError(
                    f"corrupt PNG: the image data holds more than the {self.expected} bytes "
                    "its header declares"
                )
            data = self._zlib.unconsumed_tail

    def finish(self) -> None:
        if not self._zlib.eof or self.size < self.expected:
            raise InvalidContentError(
                f"truncated PNG: the image data holds {self.size} of the {self.expected} "
                "bytes its header declares"
            )


def _png_structure(source: Source) -> None:
    """Walk every chunk, checking its CRC as a stream; IEND must end the file."""
    offset = 8
    first = True
    inflated = _Inflated(_png_scanline_bytes(_need(source.read_at(16, 13), 13, "PNG header")))
    while True:
        header = source.read_at(offset, 8)
        if len(header) < 8:
            raise InvalidContentError("truncated PNG: the file ends before the IEND chunk")
        length, kind = struct.unpack(">I4s", header)
        if length > 0x7FFFFFFF:
            raise InvalidContentError(f"corrupt PNG: chunk length {length} at byte {offset}")
        if first and kind != b"IHDR":
            raise InvalidContentError("the PNG does not start with an IHDR chunk")
        first = False
        crc = zlib.crc32(kind)
        remaining = length
        # A bad CRC is the better reason: it names the damaged chunk.
        bad_data: InvalidContentError | None = None
        while remaining:
            piece = source.read(min(remaining, _PIECE))
            if not piece:
                raise InvalidContentError(f"truncated PNG: chunk {chunk_name(kind)} is cut short")
            crc = zlib.crc32(piece, crc)
            if kind == b"IDAT" and bad_data is None:
                try:
                    inflated.feed(piece)
                except InvalidContentError as exc:
                    bad_data = exc
            remaining -= len(piece)
        stored = source.read(4)
        if len(stored) < 4:
            raise InvalidContentError(f"truncated PNG: chunk {chunk_name(kind)} has no CRC")
        if int.from_bytes(stored, "big") != crc:
            raise InvalidContentError(
                f"corrupt PNG: bad CRC in the {chunk_name(kind)} chunk at byte {offset}"
            )
        if bad_data is not None:
            raise bad_data
        offset += 12 + length
        if kind == b"IEND":
            break
    inflated.finish()
    if offset != source.size:
        raise InvalidContentError(f"{source.size - offset} bytes after the PNG's IEND chunk")


def _gif_structure(source: Source) -> None:
    if source.read_at(source.size - 1, 1) != b";":
        raise InvalidContentError("truncated GIF: the file does not end with the GIF trailer")


def _jpeg_structure(source: Source) -> None:
    """Nothing beyond the decode: JPEG files often carry data after their end marker."""


def _webp_structure(source: Source) -> None:
    if source.size > MAX_WEBP_SIZE:
        raise InvalidContentError(
            f"WebP file too large: {source.size} bytes, the limit is {MAX_WEBP_SIZE}"
        )
    declared = int.from_bytes(source.read_at(4, 4), "little") + 8
    if declared > source.size:
        raise InvalidContentError(
            f"truncated WebP: the header declares {declared} bytes, the file has {source.size}"
        )
    if declared < source.size:
        raise InvalidContentError(f"{source.size - declared} bytes after the WebP data")


_HEADER_SIZE = {"PNG": _png_size, "GIF": _gif_size, "JPEG": _jpeg_size, "WEBP": _webp_size}
_STRUCTURE = {
    "PNG": _png_structure,
    "GIF": _gif_structure,
    "JPEG": _jpeg_structure,
    "WEBP": _webp_structure,
}
