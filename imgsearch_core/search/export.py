"""Sort search hits and export them as CSV or JSON for editors' spreadsheets and scripts.

Why here: the CLI (`--sort`, `--export`) and the app's download button must write the same columns
and the same escaping. CSV is UTF-8 with a BOM (Excel then reads umlauts right) and text cells that a
spreadsheet would run as a formula are neutralised (OWASP CSV injection: a leading `'`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imgsearch_core.fields import BY_NAME

if TYPE_CHECKING:  # search loads Chroma and spaCy; the CLI's parser reads SORTS from here
    from imgsearch_core.search.engine import Hit

SORTS: tuple[str, ...] = ("relevance", "date", "date_asc")
FORMATS: tuple[str, ...] = (".csv", ".json")
COLUMNS: tuple[str, ...] = (
    "rank", "file_name", "caption", "machine_caption", "ocr_text", "credit", "creator", "copyright", "date_taken", "keywords", "city", "country",
    "id", "score", "bm25", "bm25_norm", "cosine", "cosine_norm",
)
# machine_caption: written by a model, never the caption (its own column says so); ocr_text: read inside the picture.
_TEXT_METADATA = ("file_name", "machine_caption", "ocr_text", "credit", "creator", "copyright", "date_taken", "city",
                  "country")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DATE_KEY = BY_NAME["date_taken"].filter_key


class ExportError(ValueError):
    """An export that cannot be written as asked (e.g. an unknown file type)."""


def _taken(hit: Hit) -> float | None:
    value = hit.metadata.get(_DATE_KEY)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def sort_hits(hits: Sequence[Hit], by: str = "relevance") -> list[Hit]:
    """Hits by relevance (as given), by date taken newest first (`date`) or oldest first (`date_asc`).

    Items without a date come last; ties keep their relevance order. Each hit keeps its `rank`, the
    relevance rank, so a list sorted by date still shows how well each picture matched.
    """
    if by not in SORTS:
        raise ExportError(f"Unknown sort {by!r}: use one of {', '.join(SORTS)}.")
    if by == "relevance":
        return list(hits)
    sign = -1.0 if by == "date" else 1.0
    return sorted(hits, key=lambda h: (0, sign * taken) if (taken := _taken(h)) is not None else (1, 0.0))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def export_rows(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """One dict per hit with COLUMNS in order: text cells are '' when absent, score parts None."""
    rows = []
    for hit in hits:
        meta = hit.metadata
        row: dict[str, Any] = {"rank": hit.rank, "caption": hit.caption, "keywords": _text(meta.get("keywords"))}
        row.update({name: _text(meta.get(name)) for name in _TEXT_METADATA})
        row.update(id=hit.id, score=hit.score, bm25=hit.bm25, bm25_norm=hit.bm25_norm, cosine=hit.cosine,
                   cosine_norm=hit.cosine_norm)
        rows.append({column: row[column] for column in COLUMNS})
    return rows


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate gets a leading quote; numbers stay numbers (every CSV export)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(hits: Sequence[Hit]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for row in export_rows(hits):
        writer.writerow({key: neutralise_formula(value) for key, value in row.items()})
    return buffer.getvalue().encode("utf-8-sig")


def to_json(hits: Sequence[Hit]) -> bytes:
    return json.dumps(export_rows(hits), ensure_ascii=False, indent=2).encode("utf-8")


def export_format(path: Path) -> str:
    """The file type by extension; raises ExportError for anything but .csv and .json."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"Export file {str(path)!r} must end in .csv or .json, got {suffix or 'no extension'!r}.")
    return suffix


def write_export(hits: Sequence[Hit], path: Path) -> None:
    data = to_csv(hits) if export_format(path) == ".csv" else to_json(hits)
    path.write_bytes(data)
