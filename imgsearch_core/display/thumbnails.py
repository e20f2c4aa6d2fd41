"""Grid thumbnails of stored media: one size, optionally centred on a square canvas so mixed shapes line up.
"""
from __future__ import annotations

import io
from pathlib import Path


THUMB_BACKGROUND = (240, 242, 246)


def thumbnail_jpeg(path: str | Path, size: int, square: bool = False, quality: int = 85) -> bytes:
    """A JPEG thumbnail (longest side `size`) of a stored media file, via imgsearch_core.media.images.thumbnail.

    `square` centres it on a light `size` x `size` canvas so a grid of mixed shapes lines up. Stored
    media were decoded and checked at ingest; a missing or unreadable file raises OSError.
    """
    from PIL import Image

    from imgsearch_core.media.images import thumbnail

    image = thumbnail(Path(path), size)  # RGB, upright
    if square:
        canvas = Image.new("RGB", (size, size), THUMB_BACKGROUND)
        if max(image.size) < size:  # small pictures are scaled up to fill the cell like the others
            scale = size / max(image.size)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)
        canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
        image = canvas
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
