"""An item's editorial metadata as a person reads it: the prominent facts (credit, creator, date...) and the
full field table, each with the container (IPTC, XMP, EXIF) it came from.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.display.formatting import format_date_taken


_CONTAINERS = {"iptc": "IPTC", "xmp": "XMP", "exif": "EXIF"}


def metadata_sources(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Which container gave each embedded field ({"credit": "IPTC", ...}) from the `metadata_from` JSON;
    empty when the item has none or it cannot be read."""
    import json

    raw = metadata.get("metadata_from")
    try:
        origin = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    if not isinstance(origin, dict):
        return {}
    return {str(k): _CONTAINERS.get(str(v).lower(), str(v)) for k, v in origin.items()}


def shown_value(key: str, value: Any) -> str:
    """A metadata value as a person reads it: lists `; `-joined, `added_at` (epoch seconds) as a local time,
    `date_taken` in the one date format (formatting.format_date_taken)."""
    if key == "date_taken":
        return format_date_taken(value)
    if key == "added_at" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


# Where on the server an item was read from: for the admin only, never for a visitor.
SERVER_PATH_FIELDS = frozenset({"source", "source_path"})


def metadata_rows(metadata: Mapping[str, Any], server_paths: bool = False) -> list[dict[str, str]]:
    """The metadata table of the detail view: every field sorted by name, with the container it came from.

    Bookkeeping fields (fields.py `hidden=True`: media path, pHash, metadata_from) and the `_lc`/`_ts`
    twins that filters use are left out, and the server paths (SERVER_PATH_FIELDS) unless `server_paths`.
    """
    from imgsearch_core.fields import BY_NAME, is_twin

    present = set(metadata)
    sources = metadata_sources(metadata)
    return [
        {"field": str(k), "value": shown_value(k, v), "from": sources.get(k, "")}
        for k, v in sorted(metadata.items())
        if not (k in BY_NAME and BY_NAME[k].hidden) and not is_twin(k, present)
        and (server_paths or k not in SERVER_PATH_FIELDS)
    ]


@dataclass(frozen=True)
class Fact:
    """One prominent line of the detail view: label, value and the container it came from ('' if unknown)."""

    label: str
    value: str
    source: str = ""


# What an editor looks for first, in this order; a tuple joins fields into one line (city, country).
PROMINENT_FIELDS: tuple[str | tuple[str, ...], ...] = (
    "credit", "creator", "copyright", "date_taken", "keywords", "headline", ("city", "country"),
    ("camera_make", "camera_model"),
)


def _camera(make: str, model: str) -> str:
    if make and model.casefold().startswith(make.casefold()):
        return model
    return " ".join(part for part in (make, model) if part)


def detail_facts(metadata: Mapping[str, Any]) -> list[Fact]:
    """The prominent fields an item carries (PROMINENT_FIELDS), labelled from the field catalogue."""
    from imgsearch_core.fields import BY_NAME

    sources = metadata_sources(metadata)
    facts: list[Fact] = []
    for entry in PROMINENT_FIELDS:
        names = (entry,) if isinstance(entry, str) else entry
        values = {n: shown_value(n, metadata[n]).strip() for n in names if metadata.get(n) not in (None, "", [])}
        values = {n: v for n, v in values.items() if v}
        if not values:
            continue
        if names == ("camera_make", "camera_model"):
            label, value = "Camera", _camera(values.get("camera_make", ""), values.get("camera_model", ""))
        else:
            label = " / ".join(BY_NAME[n].label for n in names if n in values)
            value = ", ".join(values.values())
        source = next((sources[n] for n in names if n in values and n in sources), "")
        facts.append(Fact(label, value, source))
    return facts


def facts_markdown(facts: Sequence[Fact]) -> str:
    """The facts as a markdown list: '**Credit:** Reuters :gray[· from IPTC]'."""
    lines = []
    for fact in facts:
        note = f" :gray[· from {escape_markdown(fact.source)}]" if fact.source else ""
        lines.append(f"- **{escape_markdown(fact.label)}:** {escape_markdown(fact.value)}{note}")
    return "\n".join(lines)
