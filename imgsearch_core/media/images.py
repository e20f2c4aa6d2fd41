"""Decoding untrusted image files (user folders, zips, browser uploads) into RGB pictures.

This module (with image_modes for the mode conversions, image_errors for the messages, and ingest_decode
for ingest's one decode to its renditions) is the only place the project decodes image bytes, so every
trap lives here:

* Pixel bombs: a 190 KB PNG can declare 196 megapixels. The declared size is checked against
  `max_pixels` right after the header is parsed, before any pixel memory is allocated. Pillow's own
  guard (`DecompressionBombError`, or `DecompressionBombWarning` when warnings are errors) is mapped to
  `ImageError` too. Nothing global is changed (`Image.MAX_IMAGE_PIXELS`, warning filters,
  `ImageFile.LOAD_TRUNCATED_IMAGES` stay as they are), so this is safe to call from several threads.
* Only the formats of `SUPPORTED_EXTENSIONS` are ever tried (`Image.open(formats=...)`), whatever
  the file is called: no EPS/Ghostscript, no exotic plugins on hostile bytes.
* Truncated or corrupt data fails at `load()`; it is loaded here, so it fails here, as `ImageError`.
* EXIF orientation is applied (Pillow does not do it by itself); `width`/`height` are the displayed
  dimensions. A malformed EXIF block is ignored rather than rejecting a good picture.
* Every mode ends up RGB (image_modes): alpha (and tRNS / palette transparency) is flattened over WHITE;
  16-bit grey is scaled 65535 -> 255; 32-bit integer images and floats outside 0..1 are mapped by their
  value range; CMYK (incl. Adobe inverted), YCbCr and LAB go through Pillow's own conversions.
* Speed: large JPEGs are decoded with `Image.draft` (DCT scaling, 1/2 .. 1/8) so the short side stays
  >= `min_side`: a 12 MP photo takes a fraction of the full decode and the embedder only needs 224 px.

Limits of Pillow's guard: it reads the process-wide `Image.MAX_IMAGE_PIXELS` (default 89.5 MP, hard
error at twice that), so a `max_pixels` above ~179 MP is still capped by it unless the application
raises that setting itself, and files between 89.5 MP and `max_pixels` still emit Pillow's warning.
"""
from __future__ import annotations

import hashlib
import io
import math
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageFile, UnidentifiedImageError

# Register exactly the plugins we open (Image.open(formats=...) would otherwise import them all).
from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, MpoImagePlugin  # noqa: F401  isort: skip
from PIL import PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401  isort: skip

from imgsearch_core.media.errors import ImageError, corrupt, error, pillow_bomb, too_many_pixels, unidentified
from imgsearch_core.media.modes import reduced_rgb, to_rgb

__all__ = ["OPEN_FORMATS", "SUPPORTED_EXTENSIONS", "DecodedImage", "ImageError", "QueryImage", "check_file_size",
           "decode_frame", "decode_image", "decode_query", "fit", "thumbnail"]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})

# The JPEG opener also returns "MPO" (a phone JPEG with a multi-picture index; MPO has no opener of
# its own), reported as JPEG since that is what it is for everyone else.
OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

_ORIENTATION_TAG = 0x0112
# EXIF orientation -> what to do to the stored pixels to show them upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = {5, 6, 7, 8}


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, loaded, upright, alpha flattened on white; may be draft-reduced
    width: int  # original dimensions after orientation (not the draft's)
    height: int
    format: str  # Pillow format name ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"; MPO reported as JPEG)
    orientation: int = 1  # the EXIF orientation that was applied (1 = none)

    @property
    def reduced(self) -> bool:
        """True when `image` is smaller than the original (draft decode)."""
        return self.image.size != (self.width, self.height)


def decode_image(
    data: bytes,
    *,
    name: str = "",
    max_pixels: int = 80_000_000,
    max_bytes: int = 64 * 2**20,
    min_side: int | None = 448,
) -> DecodedImage:
    """Decode untrusted bytes into an RGB picture, or raise `ImageError` naming `name`.

    `min_side`: JPEGs are decoded at the smallest DCT scale (1, 1/2, 1/4, 1/8) whose short side is
    still >= min_side (fast path for embedding); None decodes at full resolution.
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be positive or None, got {min_side}")
    draft = None if min_side is None else (lambda w, h: (min_side, min_side))
    return decode_frame(data, name, max_pixels, max_bytes, draft)


# Short side a decoded query keeps (decode_image's draft target): ample for CLIP's 224 px and pHash's 32 px, and
# small enough to keep for a session (an 80 MP scan would be 240 MB).
QUERY_SIDE = 448


@dataclass(frozen=True)
class QueryImage:
    """An image query decoded once: the picture shown, the search and the archive check all take this one."""

    image: Image.Image  # RGB, upright, short side at most QUERY_SIDE
    digest: str  # SHA-256 of the file: a stored item with this id is the query itself


def decode_query(data: bytes, *, name: str = "query image", max_pixels: int = 80_000_000,
                 max_bytes: int = 64 * 2**20) -> QueryImage:
    """Decode a query file (an upload, `similar IMAGE_PATH`) with every check of `decode_image`, once."""
    decoded = decode_image(data, name=name, max_pixels=max_pixels, max_bytes=max_bytes, min_side=QUERY_SIDE)
    return QueryImage(_shrink_short_side(decoded.image, QUERY_SIDE), hashlib.sha256(data).hexdigest())


def _shrink_short_side(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    if min(width, height) <= side:
        return image
    scale = side / min(width, height)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def check_file_size(size: int, *, name: str = "", max_bytes: int = 64 * 2**20) -> None:
    """The file-size checks of `decode_image`, for callers that can look before reading the bytes."""
    if size == 0:
        raise error(name, "file is empty")
    if size > max_bytes:
        raise error(name, f"file is {size:,} bytes, over the limit of {max_bytes:,}")


def thumbnail(path: Path, size: int = 256) -> Image.Image:
    """An RGB, upright picture whose long side is <= size, for result grids (JPEGs via draft).

    Raises OSError when the file cannot be read and ImageError when it is not a usable image.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    path = Path(path)

    def draft(width: int, height: int) -> tuple[int, int]:  # keep 2x the target, like Image.thumbnail
        scale = 2 * size / max(width, height)
        return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))

    decoded = decode_frame(path.read_bytes(), path.name, 80_000_000, 64 * 2**20, draft)
    return fit(decoded.image, size)


# ----- decoding ------------------------------------------------------------------------------------
def decode_frame(
    data: bytes,
    name: str,
    max_pixels: int,
    max_bytes: int,
    draft: Callable[[int, int], tuple[int, int]] | None,
    shrink_to: tuple[int, int] | None = None,
    reserve: Callable[[int], AbstractContextManager[None]] | None = None,
) -> DecodedImage:
    """The one decode every caller goes through. `draft(width, height)`: the size a JPEG may be DCT-scaled
    down to. `shrink_to` = (long, short): reduce by the largest integer factor that keeps both sides at
    least that long (ingest). `reserve(pixels)`: held while the decoded frame of that many pixels is."""
    check_file_size(len(data), name=name, max_bytes=max_bytes)
    source = _open(data, name, max_pixels)
    try:
        width, height = source.size
        if width <= 0 or height <= 0:
            raise error(name, "image has zero width or height")
        if width * height > max_pixels:
            raise too_many_pixels(name, width * height, max_pixels)
        fmt = "JPEG" if source.format == "MPO" else str(source.format)
        if draft is not None and fmt == "JPEG":
            source.draft(source.mode, draft(width, height))
        frame_pixels = source.size[0] * source.size[1]  # the draft's size once drafted
        with reserve(frame_pixels) if reserve is not None else nullcontext():
            source.load()
            orientation = _orientation(source)
            factor = 1 if shrink_to is None else _reduce_factor(source.size, *shrink_to)
            image = to_rgb(source) if factor == 1 else reduced_rgb(source, factor)
            if image is source:
                image = source.copy()  # a plain Image: no file object, no lazy-loading surprises later
        image.info = {"icc_profile": source.info["icc_profile"]} if _keeps_icc(source) else {}
        if orientation in _TRANSPOSE:
            image = image.transpose(_TRANSPOSE[orientation])
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise pillow_bomb(name, exc, max_pixels) from exc
    except MemoryError as exc:
        raise error(name, "not enough memory to decode this image") from exc
    except Exception as exc:  # any failure inside a decoder on hostile bytes means a bad file
        raise corrupt(name, exc) from exc
    finally:
        source.close()
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    return DecodedImage(image, width, height, fmt, orientation)


def _open(data: bytes, name: str, max_pixels: int) -> ImageFile.ImageFile:
    """Parse the header only (Image.open is lazy), trying just the supported formats."""
    try:
        return Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise pillow_bomb(name, exc, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise error(name, unidentified(data)) from exc
    except MemoryError as exc:
        raise error(name, "not enough memory to decode this image") from exc
    except Exception as exc:  # a recognised header that a plugin then chokes on
        raise corrupt(name, exc) from exc


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF: show the picture as stored rather than reject it
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _keeps_icc(source: Image.Image) -> bool:
    """An embedded ICC profile still describes the RGB pixels only when the source was RGB already."""
    return bool(source.info.get("icc_profile")) and source.mode in ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")


def _reduce_factor(size: tuple[int, int], long_min: int, short_min: int) -> int:
    """The largest integer factor that keeps the long side >= long_min and the short side >= short_min."""
    return max(1, min(max(size) // long_min, min(size) // short_min))


def fit(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink (never enlarge) so the long side is max_side. Bicubic, as Image.thumbnail: Lanczos costs
    about 1.5x the time (~190 ms for 12 MP -> 3 MP here) for no visible gain at these ratios."""
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, min(max_side, round(width * scale))), max(1, min(max_side, round(height * scale))))
    resized = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    resized.info = dict(image.info)
    return resized

