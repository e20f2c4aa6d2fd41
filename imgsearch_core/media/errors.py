"""What a file that cannot be used as an image is told: one user-facing sentence per problem.

Why its own module: the most helpful sentence for bytes that no decoder accepted (a PDF, a zip, a HEIC, a
damaged PNG header, a zero-sized image) needs a look at the magic numbers and headers, which has nothing to
do with decoding itself; decoding (images.py) only names the problem it met.
"""
from __future__ import annotations

import re
import struct

SUPPORTED_NAMES = "JPEG, PNG, WEBP, GIF, BMP or TIFF"


class NamedInputError(ValueError):
    """What is wrong with one named input (a file, an upload). `reason` leaves the name out: a report shows
    the name in its own column. The message (str) puts it in front, "x.png: file is empty", for one-line
    places that show nothing else (the command line, an error box)."""

    def __init__(self, reason: str, name: str = "") -> None:
        super().__init__(f"{name}: {reason}" if name else reason[:1].upper() + reason[1:])
        self.name, self.reason = name, reason


class ImageError(NamedInputError):
    """A file that cannot be used as an image; the message is one user-facing sentence."""


def error(name: str, text: str) -> ImageError:
    return ImageError(text, name)


def too_many_pixels(name: str, pixels: int, limit: int, whose: str = "") -> ImageError:
    return error(name, f"image declares {pixels:,} pixels, over the {whose}limit of {limit:,}")


def pillow_bomb(name: str, exc: BaseException, max_pixels: int) -> ImageError:
    """Pillow's own bomb guard fired (its limit is a process-wide setting, not ours)."""
    found = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
    if found is None:
        return error(name, "image declares too many pixels to decode safely")
    pixels, pillow_limit = int(found.group(1)), int(found.group(2))
    if pixels > max_pixels:
        return too_many_pixels(name, pixels, max_pixels)
    return too_many_pixels(name, pixels, pillow_limit, whose="decoder's safety ")


def corrupt(name: str, exc: BaseException) -> ImageError:
    if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
        return error(name, "image data is truncated (the file is incomplete)")
    return error(name, "image data is corrupt and cannot be decoded")


_OTHER_KINDS = (
    (b"%PDF", "file is a PDF document, not an image"),
    (b"PK\x03\x04", "file is a zip archive, not an image"),
    (b"8BPS", "Photoshop (PSD) files are not supported"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}


def unidentified(data: bytes) -> str:
    """The most helpful sentence for bytes that no supported plugin accepted."""
    fmt = _supported_magic(data)
    if fmt is not None:
        size = _header_size(data, fmt)
        if size is not None and (size[0] == 0 or size[1] == 0):
            return "image has zero width or height"
        return f"{fmt} header is damaged or truncated"
    for magic, text in _OTHER_KINDS:
        if data.startswith(magic):
            return text
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return f"HEIC/AVIF images are not supported (use {SUPPORTED_NAMES})"
    if _looks_like_text(data):
        return "file contains text, not an image"
    return f"not a supported image (expected {SUPPORTED_NAMES})"


def _supported_magic(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    if data.startswith(b"BM") and len(data) >= 26 and struct.unpack_from("<I", data, 14)[0] in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"
    return None


def _header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """Declared (width, height) for the formats whose zero sizes Pillow refuses to identify."""
    try:
        if fmt == "PNG" and data[12:16] == b"IHDR":
            return struct.unpack_from(">II", data, 16)
        if fmt == "BMP":
            if struct.unpack_from("<I", data, 14)[0] == 12:
                return struct.unpack_from("<HH", data, 18)
            width, height = struct.unpack_from("<ii", data, 18)
            return abs(width), abs(height)
        if fmt == "JPEG":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, index + 5)
            return width, height
        index += 2 + struct.unpack_from(">H", data, index + 2)[0]
    return None


def _looks_like_text(data: bytes) -> bool:
    head = data[:1024]
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and len(head) == 1024  # a character cut by the slice
    return True
