"""The picture with the words read inside it boxed, for the detail view.

Why a pure function of (picture, stored boxes): the boxes are recorded with the size of the picture they were
read on (media/picture_text.py), and the detail view shows the stored media file or a thumbnail of it at
another size, so each box is scaled to the picture it is drawn on. A box that falls outside is clipped; a value
that is not ours draws nothing.
"""
from __future__ import annotations

from typing import Any

from PIL import Image, ImageDraw

from imgsearch_core.media.picture_text import decode_words

BOX_COLOUR = (255, 214, 0)  # amber: visible on photos, not a "good/bad" colour


def draw_word_boxes(image: Image.Image, stored: Any, width: int | None = None) -> Image.Image:
    """A copy of `image` (RGB) with each stored word's box outlined; `stored` is the item's `ocr_words` value.
    `width`: the outline in pixels (default: about 0.4 % of the long side, at least 2)."""
    out = image.convert("RGB")  # a copy, also for an RGB input
    layout = decode_words(stored)
    if layout is None:
        return out
    sx, sy = out.width / layout.size[0], out.height / layout.size[1]
    line = width or max(2, round(max(out.size) / 250))
    draw = ImageDraw.Draw(out)
    for word in layout.words:
        x0, y0, x1, y1 = word.box
        box = (max(0, round(min(x0, x1) * sx)), max(0, round(min(y0, y1) * sy)),
               min(out.width - 1, round(max(x0, x1) * sx)), min(out.height - 1, round(max(y0, y1) * sy)))
        if box[0] < box[2] and box[1] < box[3]:
            draw.rectangle(box, outline=BOX_COLOUR, width=line)
    return out
