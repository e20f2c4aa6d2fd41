"""The detail view's text read inside the picture (with its word boxes drawn) and the machine caption.

Why shown as plain text (st.text) and labelled: both come from a picture or a model, not an editor, so they
are never rendered as Markdown or HTML, and a machine caption always says it is machine-made and by which model.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.display.word_boxes import draw_word_boxes
from imgsearch_core.media.images import ImageError, thumbnail

BOXED_SIDE = 960  # as the detail view's picture


def show(hit: Any) -> None:
    """The machine caption and the text in the picture of a hit (nothing when it has neither)."""
    meta = hit.metadata
    if machine := meta.get("machine_caption"):
        model = escape_markdown(str(meta.get("machine_caption_model") or "unknown"))
        st.caption(f":material/smart_toy: Machine caption (model {model})")
        st.text(str(machine))
    if text := meta.get("ocr_text"):
        st.caption(":material/document_scanner: Text in the picture")
        st.text(str(text))
        with st.expander("Words on the picture"):
            try:
                picture = thumbnail(hit.media_path, BOXED_SIDE)
            except (OSError, ImageError):
                st.caption(":material/broken_image: image file missing")
                return
            st.image(draw_word_boxes(picture, meta.get("ocr_words")), width="stretch",
                     caption="Boxes: where the words were read")
