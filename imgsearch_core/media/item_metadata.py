"""An item's caption and metadata from what the user gave and what the file carries.

Why one function for ingest and re-reading: both must apply the same precedence (explicit caption
file or sidecar, then IPTC, XMP, EXIF), the same storage twins and the same field names, or a
re-read would silently change what a first ingest wrote.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from imgsearch_core.media.content_credentials import Credentials, read_credentials
from imgsearch_core.media.dates import parse_taken, taken_epoch
from imgsearch_core.media.embedded_metadata import EmbeddedMetadata, read_embedded
from imgsearch_core.fields import BY_NAME, is_reserved

# What BM25 indexes besides the caption: appended text (see searchable_text). Field names as stored
# (imgsearch_core.fields): `photo_source` is IPTC Source.
SEARCHABLE_FIELDS = ("headline", "keywords", "city", "country", "credit", "creator", "photo_source", "copyright")
# One separator character; the whitespace around it is stripped from the pieces. Why not one regex with
# `\s*` on both sides: that backtracks quadratically on a run of whitespace (20,000 spaces took 1.7 s).
_LIST_SEPARATOR = re.compile(r"[;|,]")


@dataclass(frozen=True)
class Described:
    caption: str
    metadata: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # embedded metadata that could not be read
    refused: list[str] = field(default_factory=list)  # caption-file columns the store keeps for itself


def describe(
    name: str,
    source: str,
    data: bytes,
    *,
    caption: str = "",
    caption_from: str = "",
    extra: Mapping[str, Any] | None = None,
    read_metadata: bool = True,
) -> Described:
    """Caption and metadata of one image file.

    `caption`/`caption_from`: what a caption file or sidecar said (it wins). `extra`: the caption
    file's other columns, which win over embedded values of the same field; a column named like a key the
    store writes itself (fields.RESERVED_KEYS, twins) is left out and named in `refused`.
    """
    embedded = read_embedded(data) if read_metadata else EmbeddedMetadata()
    credentials = read_credentials(data) if read_metadata else Credentials()
    problems = [*embedded.problems, *credentials.problems]
    kept, refused = split_reserved(extra or {})
    final_caption = caption.strip() or embedded.caption
    origin = caption_from if caption.strip() else embedded.origin.get("caption", "")
    metadata: dict[str, Any] = {
        **embedded.as_metadata(),
        **credentials.as_metadata(),
        **({"metadata_problem": "; ".join(problems)} if problems else {}),
        **normalise_extra(kept),
        "file_name": PurePosixPath(name).name,
        "source_path": name,
        "source": source,
        "captioned": bool(final_caption),
    }
    if origin:
        metadata["caption_from"] = origin
    return Described(final_caption, metadata, problems, refused)


def split_reserved(extra: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the columns a caption file may set, a report line for each reserved one it tried to set)."""
    kept = {k: v for k, v in extra.items() if not is_reserved(str(k))}
    refused = [f"caption file column {str(k)!r} is reserved by the store (ignored)" for k in extra if is_reserved(str(k))]
    return kept, refused


def split_list_cell(text: str) -> list[str]:
    """The words of a caption-file list cell ("a; b | c, d"), in linear time whatever the whitespace."""
    return [w for w in (piece.strip() for piece in _LIST_SEPARATOR.split(text)) if w]


def normalise_extra(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Caption-file columns named like catalogued fields get the same storage as embedded values
    (a "keywords" cell "a; b" becomes a list with its lower-cased twin, a "date_taken" cell gets its
    epoch twin), so filters and sorting treat both alike."""
    out: dict[str, Any] = {}
    for key, value in extra.items():
        known = BY_NAME.get(key)
        if known is not None and known.kind == "list" and isinstance(value, str):
            words = split_list_cell(value)
            if words:
                out[key], out[f"{key}_lc"] = words, [w.casefold() for w in words]
        elif known is not None and known.kind == "date" and key != "added_at" and isinstance(value, str):
            out[key] = value.strip()
            stamp = _epoch(value)
            if stamp is not None:
                out[f"{key}_ts"] = stamp
        else:
            out[key] = value
    return out


def _epoch(text: str) -> int | None:
    """The filter twin of a caption-file date cell (media.dates: an offset-less time keeps its wall clock)."""
    parsed = parse_taken(text)
    return None if parsed is None else taken_epoch(parsed)


def searchable_text(caption: str, metadata: Mapping[str, Any]) -> str:
    """The text BM25 indexes: the caption, then headline, keywords, place, credit, creator, source and
    copyright appended.

    Why appended rather than weighted fields: BM25 stays the single-field Okapi BM25 whose scores the
    tests compare with rank-bm25, and a keyword, a city or a name ("Keystone", a photographer's) counts
    like one more caption word, which is what an editor typing "Hamburg" or an agency expects (a filter on
    the credit field stays exact). The caption shown to users stays the caption alone.
    The text read inside the picture (`ocr_text`: a placard, a shop sign) is always appended; the machine
    caption only when the item has no editorial caption, which it must never outweigh.
    """
    parts = [caption]
    for name in SEARCHABLE_FIELDS:
        value = metadata.get(name)
        if isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif value:
            parts.append(str(value))
    parts.append(str(metadata.get("ocr_text") or ""))
    if not caption.strip():
        parts.append(str(metadata.get("machine_caption") or ""))
    return "\n".join(p for p in parts if p and p.strip())
