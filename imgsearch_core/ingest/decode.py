"""Decoding for ingest: one decode of a file, straight to the sizes ingest stores.

JPEGs are decoded via `Image.draft` to the smallest DCT scale whose long side is still >= ~1024 px
(`DRAFT_SLACK`), other formats reduced by an integer factor (`Image.reduce`, box average) right after
loading, before any mode conversion, so a 49 MP scan's full frame lives only for the moment of its decode.
A `FrameBudget` bounds how many full frames concurrent decodes hold. From that one working picture come
the media rendition (long side <= 1024), the model input (short side = the model's input size) and the
pHash. Renditions keep the original bytes when a browser can show them as they are (JPEG, PNG, WEBP,
GIF), the long side is <= 1024 and no rotation is pending; otherwise a JPEG of the working picture,
upright, long side <= 1024. Nothing is ever decoded a second time for it.
"""
from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from imgsearch_core.media.images import DecodedImage, decode_frame, fit

# Formats a browser shows as they are, with the extension the media store keeps them under.
_BROWSER_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
_RENDITION_QUALITY = 90

MEDIA_MAX_SIDE = 1024  # long side of the media renditions ingest writes
MODEL_INPUT_SIDE = 224  # default model input (CLIP's shortest edge) when the embedder does not say
# How far below MEDIA_MAX_SIDE the working picture's long side may end up, so that a 4000 x 3000 JPEG is
# decoded at DCT scale 1/4 (1000 x 750, taken as is) rather than at 1/2 plus a bicubic 2000 -> 1024
# resize: measured 44 ms against 52 + 36 ms of CPU (benchmarks/RESULTS.md, "Ingest at archive speed").
DRAFT_SLACK = 15 / 16


def media_rendition(data: bytes, decoded: DecodedImage, *, max_side: int = MEDIA_MAX_SIDE) -> tuple[bytes, str]:
    """What the media store keeps: (bytes, extension such as ".jpg").

    The original bytes when a browser can show them as they are (JPEG, PNG, WEBP, GIF), the long side
    is <= max_side and no EXIF rotation is pending. Otherwise a JPEG (quality 90) of `decoded.image`
    (upright), resized so its long side is max_side when larger. The file is never decoded again, so
    a draft-reduced picture gives a rendition no larger than the draft: decode with
    `decode_for_ingest` (or a draft whose long side is >= max_side) for full-size renditions.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    ext = _BROWSER_EXTENSIONS.get(decoded.format)
    if ext is not None and max(decoded.width, decoded.height) <= max_side and decoded.orientation == 1:
        return data, ext
    image = fit(decoded.image, max_side)
    out = io.BytesIO()
    icc = image.info.get("icc_profile")
    image.save(out, "JPEG", quality=_RENDITION_QUALITY, **({"icc_profile": icc} if icc else {}))
    return out.getvalue(), ".jpg"


class FrameBudget:
    """Caps the pixels that concurrent decodes hold at full (or draft) resolution at once.

    Why: a PNG or TIFF cannot be decoded at a reduced scale, so each decode briefly holds its whole
    frame (a 49 MP RGB scan is 147 MB, plus a copy while alpha is premultiplied). With several decode
    threads, that, not the batch of small renditions, would set the peak memory. A frame larger than
    the whole budget is still decoded, alone.
    """

    def __init__(self, pixels: int) -> None:
        if pixels < 1:
            raise ValueError(f"pixels must be positive, got {pixels}")
        self.pixels = pixels
        self._in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        with self._changed:
            while self._in_use and self._in_use + pixels > self.pixels:
                self._changed.wait()
            self._in_use += pixels
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= pixels
                self._changed.notify_all()


@dataclass(frozen=True)
class IngestPicture:
    """Everything ingest needs from one decode of one file."""

    decoded: DecodedImage  # `image` is the working picture (see decode_for_ingest)
    media: bytes  # what the media store keeps
    media_ext: str
    model_input: Image.Image  # RGB, short side = model_side (never enlarged), for the embedder


def decode_for_ingest(
    data: bytes,
    *,
    name: str = "",
    max_pixels: int = 80_000_000,
    max_bytes: int = 64 * 2**20,
    max_side: int = MEDIA_MAX_SIDE,
    model_side: int = MODEL_INPUT_SIDE,
    budget: FrameBudget | None = None,
    work_side: int | None = None,
) -> IngestPicture:
    """Decode once, straight to what ingest stores: a media rendition and the model input.

    The working picture (`decoded.image`, upright RGB) keeps its long side >= work_side * DRAFT_SLACK
    (work_side: max_side unless given; an OCR engine that reads it wants more pixels than the rendition keeps)
    and its short side >= model_side where the original allows it: JPEGs get there by DCT scaling,
    other formats by an integer `reduce` right after loading, so no full-resolution RGB copy is ever
    made of a large scan. Everything the tests demand of `decode_image` (orientation, CMYK, alpha on
    white, 16-bit scaling) holds, as the same code runs; only the scale differs.
    """
    if max_side < 1 or model_side < 1:
        raise ValueError(f"max_side and model_side must be positive, got {max_side} and {model_side}")
    long_min = max(1, math.ceil(max(max_side, work_side or 0) * DRAFT_SLACK))

    def draft(width: int, height: int) -> tuple[int, int]:
        return (long_min, model_side) if width >= height else (model_side, long_min)

    reserve = budget.reserve if budget is not None else None
    decoded = decode_frame(data, name, max_pixels, max_bytes, draft, shrink_to=(long_min, model_side), reserve=reserve)
    media, ext = media_rendition(data, decoded, max_side=max_side)
    return IngestPicture(decoded, media, ext, _model_input(decoded.image, model_side, (decoded.width, decoded.height)))


def _model_input(image: Image.Image, side: int, original: tuple[int, int]) -> Image.Image:
    """Resized so the short side is `side` (never enlarged), bicubic, with the size the CLIP image
    processor computes (long side `int(side * long / short)`) from the ORIGINAL proportions: a reduced
    picture's rounded-up sides would shift the processor's centre crop (a 3000 x 2000 scan reduced to
    1000 x 667 would become 95 x 64 instead of 96 x 64 for a 64 px model, measured as 1 - cosine 1e-2)."""
    width, height = image.size
    if min(width, height) <= side:
        return image
    short, long = min(original), max(original)
    other = max(side, int(side * long / short))
    size = (other, side) if width >= height else (side, other)
    return image.resize(size, Image.Resampling.BICUBIC)

