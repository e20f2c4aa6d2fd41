"""Download file names that say what was exported: collection, query and day, e.g. photos-red-ship-2026-05-17.csv.

Why: every export used to be imgsearch-results.csv, so a folder of them said nothing; and a collection name or
a query may hold path separators, dots or characters some systems forbid, so only ASCII letters, digits and
single hyphens reach the name (accents folded: "Zürich" gives "zurich").
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

MAX_PART_CHARS = 40


def slug(text: str, max_chars: int = MAX_PART_CHARS) -> str:
    """`text` case-folded ("ß" gives "ss") as ASCII words joined by hyphens, at most `max_chars` long; "" if nothing is left."""
    folded = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode("ascii")
    return "-".join(re.findall(r"[a-z0-9]+", folded))[:max_chars].strip("-")


def export_stem(collection: str, query: str, day: date) -> str:
    """The name of an export without its extension; parts that slug to nothing get a generic word."""
    return f"{slug(collection) or 'collection'}-{slug(query) or 'results'}-{day.isoformat()}"
