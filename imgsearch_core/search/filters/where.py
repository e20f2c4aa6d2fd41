"""Chroma `where` dicts built from chosen values: AND-combining filters, their cache keys and the app's widgets.

Why apart from the filter language: the Text and Image search pages build a `where` from widget choices that
are already typed (a date, a list of values), so nothing is parsed; the same combining rules and catalogue
twins (`_ts` dates as epoch seconds, `_lc` lists matched case-insensitively) serve the parsed filters too.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from imgsearch_core.fields import BY_NAME


def epoch_seconds(moment: datetime) -> int:
    """Seconds since the epoch; a moment without an offset is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def day_start(day: date) -> int:
    """The first second of ``day`` (UTC) in epoch seconds."""
    return epoch_seconds(datetime(day.year, day.month, day.day))


def any_of(key: str, words: Sequence[str]) -> dict:
    """A list field holding at least one of ``words``."""
    parts = [{key: {"$contains": w}} for w in words]
    return parts[0] if len(parts) == 1 else {"$or": parts}


def where_from_choices(
    equals: Mapping[str, Sequence[Any]],
    keywords_any: Sequence[str],
    date_from: date | None,
    date_to: date | None,
    only_uncaptioned: bool,
) -> dict | None:
    """The app's filter widgets -> a `where`: any of the values per field, any of the keywords,
    date taken within [date_from, date_to] (both whole days), only items without a caption."""
    parts: list[dict | None] = []
    for field, values in equals.items():
        if not values:
            continue
        if field in BY_NAME and BY_NAME[field].kind == "list":
            parts.append(any_of(BY_NAME[field].filter_key, [str(v).casefold() for v in values]))
        else:
            parts.append({field: {"$eq": values[0]}} if len(values) == 1 else {field: {"$in": list(values)}})
    if keywords_any:
        parts.append(any_of(BY_NAME["keywords"].filter_key, [k.casefold() for k in keywords_any]))
    key = BY_NAME["date_taken"].filter_key
    if date_from is not None:
        parts.append({key: {"$gte": day_start(date_from)}})
    if date_to is not None:
        parts.append({key: {"$lt": day_start(date_to + timedelta(days=1))}})
    if only_uncaptioned:
        parts.append({"captioned": False})
    return combine(*parts)


def combine(*wheres: dict | None) -> dict | None:
    """AND of the non-empty filters (nested ANDs flattened); None when there are none."""
    parts: list[dict] = []
    for where in wheres:
        if where:
            parts.extend(where["$and"] if set(where) == {"$and"} else [where])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def filter_key(where: dict | None) -> str:
    """A stable text form of a filter, for cache keys."""
    return json.dumps(where, sort_keys=True) if where else ""
