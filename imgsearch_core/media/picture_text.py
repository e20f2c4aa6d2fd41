"""The words an OCR engine read inside a picture and the caption a captioning model wrote, as item fields.

Why one module for both directions: ingest and enrich write these fields (fields.py: `ocr_text`, `ocr_words`,
`ocr_engine`, `machine_caption`, `machine_caption_model`) and the detail view reads the word boxes back; one
codec keeps them from drifting apart. Everything is bounded (words, characters), because Chroma keeps every
metadata value in memory-mapped SQLite rows and a page of a newspaper scan can hold thousands of words.

`ocr_engine` is written even when a picture holds no text: it says "read by this engine", so an enrich run
resumed after a kill, or run again, never reads that picture a second time. `machine_caption_model` does the
same for captions. A machine caption never becomes the item's caption (the Chroma document): an item whose
only caption is machine-made says so with `caption_from = machine` and stays `captioned = False`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imgsearch_core.fields import MACHINE_CAPTION_ORIGIN
from imgsearch_core.types import WordBox

# A picture is read at most this large (RapidOCR's own max_side_len): a 49-MP scan never is, and ingest decodes its
# working picture this large when it reads text, since 14-28 px words of a 12-MP photo are lost at the rendition's
# 1024 px (benchmarks/RESULTS.md "OCR engines"). Enrich reads the stored 1024-px rendition: the originals may be gone.
OCR_MAX_SIDE = 2000
CAPTION_SIDE = 384  # a picture is captioned at most this large (BLIP's input side; a captioner resizes anyway)
MAX_WORDS = 300  # words kept per picture, in reading order
MAX_WORD_CHARS = 64
MAX_TEXT_CHARS = 4_000  # as the longest embedded metadata field (media/embedded_metadata.py)
MAX_NAME_CHARS = 200  # an engine's or a model's name (a model path can be long)
OCR_FIELDS = ("ocr_text", "ocr_words", "ocr_engine")
CAPTION_FIELDS = ("machine_caption", "machine_caption_model")


@dataclass(frozen=True)
class WordLayout:
    """The stored word boxes and the size (width, height) of the picture they were read on."""

    size: tuple[int, int]
    words: list[WordBox]


def ocr_fields(words: Sequence[WordBox], size: tuple[int, int], engine: str) -> dict[str, Any]:
    """The fields of one read: the text (words joined in reading order), the boxes as JSON with the size of the
    picture they were read on, and the engine. A picture without words gets only the engine (None removes any
    earlier text in an update; an add drops None)."""
    kept = [WordBox(w.text.strip()[:MAX_WORD_CHARS], float(w.confidence), tuple(int(v) for v in w.box))  # type: ignore[arg-type]
            for w in words if w.text.strip()][:MAX_WORDS]
    fields: dict[str, Any] = {"ocr_engine": engine[:MAX_NAME_CHARS], "ocr_text": None, "ocr_words": None}
    if kept:
        fields["ocr_text"] = " ".join(w.text for w in kept)[:MAX_TEXT_CHARS]
        fields["ocr_words"] = json.dumps(
            {"size": [int(size[0]), int(size[1])],
             "words": [[w.text, round(w.confidence, 3), *w.box] for w in kept]},
            ensure_ascii=False, separators=(",", ":"))
    return fields


def decode_words(raw: Any) -> WordLayout | None:
    """The word boxes of an `ocr_words` value; None when there are none or the value is not ours (a store
    written by hand or by an older version is shown without boxes, never fails the detail view)."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        data = json.loads(raw)
        width, height = (int(v) for v in data["size"])
        words = [WordBox(str(t), float(c), (int(x0), int(y0), int(x1), int(y1))) for t, c, x0, y0, x1, y1 in data["words"]]
    except (ValueError, TypeError, KeyError):
        return None
    return WordLayout((width, height), words) if width > 0 and height > 0 else None


def machine_caption_fields(text: str, model: str, editorial_caption: str) -> dict[str, Any]:
    """The fields of one machine caption. `caption_from = machine` only for an item without an editorial
    caption; an editorial caption and its origin are never touched."""
    caption = " ".join(text.split())[:MAX_TEXT_CHARS]
    fields: dict[str, Any] = {"machine_caption": caption or None, "machine_caption_model": model[:MAX_NAME_CHARS]}
    if not editorial_caption.strip():
        fields["caption_from"] = MACHINE_CAPTION_ORIGIN if caption else None
    return fields


def reset_caption_changes(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that remove an item's machine caption ({} when it has none), its origin mark included."""
    if not any(k in metadata for k in CAPTION_FIELDS):
        return {}
    changes: dict[str, Any] = {name: None for name in CAPTION_FIELDS if name in metadata}
    if metadata.get("caption_from") == MACHINE_CAPTION_ORIGIN:
        changes["caption_from"] = None
    return changes


def needs_ocr(metadata: Mapping[str, Any]) -> bool:
    """True until an engine has read the picture (with or without finding text)."""
    return not metadata.get("ocr_engine")


def needs_caption(caption: str, metadata: Mapping[str, Any]) -> bool:
    """True for an item with no editorial caption that no captioner has described yet."""
    return not caption.strip() and not metadata.get("machine_caption_model")
