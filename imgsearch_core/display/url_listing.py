"""What a link holds about the listed hits, beside the query: the filter widgets' choices, sort and collapse.

Why its own dataclass: the Text and Image search pages share the same filter widgets and result options, so
one link format (?credit=AP&credit=dpa&from=2020-01-01&to=2021-12-31&uncap=1&sort=date_asc&collapse=1)
serves both. Parsing checks the form of each value (dates, sort names); `checked` then checks the values
against what the collection carries, because a link may come from another collection or an older state.
Every bad value is one clear error and falls back to "no filter" for that field.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.search.export import SORTS

CHOICE_PARAMS: dict[str, str] = {"credit": "credit", "creator": "creator", "keywords": "kw"}  # field -> URL key
MAX_VALUES = 50  # per field: a link's list is bounded
FLAGS = ("1", "true", "yes", "on")
KEYS: tuple[str, ...] = (*CHOICE_PARAMS.values(), "from", "to", "uncap", "sort", "collapse")  # its URL parameters


def quoted(raw: str) -> str:
    """A link's value as an error box shows it: quoted, at most 80 characters, never read as markdown."""
    return escape_markdown(repr(raw[:80]))


def first(value: Any) -> str | None:
    """The last value of a parameter: st.query_params gives str, get_all and hand-made dicts lists."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
    return None if value is None else str(value)


def every(value: Any) -> list[str]:
    """All values of a repeated parameter (?credit=AP&credit=dpa), in order, without duplicates."""
    values = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    return list(dict.fromkeys(str(v) for v in values if str(v) != ""))


def flag(value: Any) -> bool:
    return (first(value) or "").lower() in FLAGS


def _parse_day(raw: str | None, what: str, errors: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"The link's {what} date {quoted(raw)} is not a day like 2021-12-31; using no {what} date.")
        return None


@dataclass(frozen=True)
class ListingParams:
    """The filter widgets' choices and the result options; the defaults are "everything, by relevance"."""

    credit: tuple[str, ...] = ()
    creator: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    uncaptioned: bool = False
    sort: str = "relevance"
    collapse: bool = False

    @classmethod
    def from_query(cls, params: Mapping[str, Any]) -> tuple["ListingParams", list[str]]:
        """Parse URL parameters (values may be lists for repeated keys); bad values are reported in `errors`."""
        errors: list[str] = []
        choices = {name: tuple(every(params.get(key))[:MAX_VALUES]) for name, key in CHOICE_PARAMS.items()}
        date_from = _parse_day(first(params.get("from")), "from", errors)
        date_to = _parse_day(first(params.get("to")), "to", errors)
        if date_from and date_to and date_from > date_to:
            errors.append(f"The link's dates run backwards ({date_from} to {date_to}); using all dates.")
            date_from = date_to = None
        sort = first(params.get("sort")) or "relevance"
        if sort not in SORTS:
            errors.append(f"The link's sort {quoted(sort)} is not one of {', '.join(SORTS)}; using relevance.")
            sort = "relevance"
        parsed = cls(date_from=date_from, date_to=date_to, uncaptioned=flag(params.get("uncap")), sort=sort,
                     collapse=flag(params.get("collapse")), **choices)
        return parsed, errors

    def to_query(self) -> dict[str, str | list[str]]:
        """URL parameters, defaults left out."""
        out: dict[str, str | list[str]] = {}
        for name, key in CHOICE_PARAMS.items():
            if getattr(self, name):
                out[key] = list(getattr(self, name))
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        if self.uncaptioned:
            out["uncap"] = "1"
        if self.sort != "relevance":
            out["sort"] = self.sort
        if self.collapse:
            out["collapse"] = "1"
        return out

    def checked(self, present: Mapping[str, Collection[str]], date_span: tuple[date, date] | None,
                can_uncaptioned: bool) -> tuple["ListingParams", list[str]]:
        """These choices within what the collection carries: `present` values per field, the span of its
        dates (None: no dated items), whether it has uncaptioned items to filter on. A value it lacks is
        dropped with one error each (the link may come from another collection)."""
        errors: list[str] = []
        kept: dict[str, Any] = {}
        for name in CHOICE_PARAMS:
            values = getattr(self, name)
            have = present.get(name, ())
            missing = [v for v in values if v not in have]
            for value in missing:
                errors.append(f"This collection has no {name} {quoted(value)}; that part of the link's filter is left out.")
            kept[name] = tuple(v for v in values if v in have)
        if (self.date_from or self.date_to) and date_span is None:
            errors.append("This collection has no dated pictures; the link's date range is left out.")
            kept.update(date_from=None, date_to=None)
        elif date_span is not None:
            low, high = date_span
            start, end = max(self.date_from or low, low), min(self.date_to or high, high)
            if start > end:
                errors.append(f"The link's dates lie outside this collection's ({low} to {high}); using all dates.")
                start, end = low, high
            kept.update(date_from=None if (start, end) == (low, high) else start,
                        date_to=None if (start, end) == (low, high) else end)
        if self.uncaptioned and not can_uncaptioned:
            errors.append("The link asks for only uncaptioned pictures, which this collection cannot filter on; left out.")
            kept["uncaptioned"] = False
        if self.sort != "relevance" and date_span is None:
            errors.append("This collection's pictures carry no dates to sort by; sorted by relevance.")
            kept["sort"] = "relevance"
        return replace(self, **kept), errors
