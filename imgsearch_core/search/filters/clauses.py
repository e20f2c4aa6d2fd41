"""One clause of the filter language (a field, an operator, its values) -> a Chroma `where`, typed by the field.

Why a module of its own: what a clause means depends only on the field catalogue (fields.py), not on how
the filter was written: dates compare as epoch seconds on their `_ts` twin (a period as a bound covers it
whole), list fields match case-insensitively on their `_lc` twin, numbers and true/false are checked. Every
error of the language is a `FilterError` whose message ends with the accepted forms (`FILTER_HELP`).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from imgsearch_core.fields import BY_NAME
from imgsearch_core.search.filters.where import any_of, combine, day_start, epoch_seconds

FILTER_HELP = (
    "Filter on metadata, e.g. `credit = Reuters`, `credit != AP`, `credit = \"Smith, J.\"`, "
    "`city in (Kiel, Hamburg)`, `country not in (DE, FR)`, `width >= 1000`, `width between 100 and 2000`, "
    "`date_taken >= 2020-01-01`, `date_taken between 2020-01-01 and 2020-12-31`, `has caption`, "
    "`has no caption`, `keywords contains harbour`, `keywords contains any (harbour, boat)`. "
    "Join clauses with `,` or `and` (all must hold); quote values that hold a comma, a bracket or the word "
    'and. A JSON Chroma filter such as `{"credit": "Reuters"}` works too.'
)
RANGE_OPERATORS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_PERIOD = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


class FilterError(ValueError):
    """A metadata filter that cannot be understood; the message says how to write one."""


def filter_error(message: str) -> FilterError:
    """A FilterError whose message goes on with the accepted forms."""
    return FilterError(f"{message} {FILTER_HELP}")


def check_field(name: str, known: Iterable[str] | None) -> None:
    """Refuse a field no item carries, naming the ones that exist (a typo should not mean 'no results')."""
    if known is not None and name not in known:
        raise FilterError(f"Unknown field {name!r}. Known fields: {', '.join(sorted(known))}.")


@dataclass(frozen=True)
class FilterValue:
    """One value as written: a quoted value is always text, a bare one is typed by the field."""

    text: str
    quoted: bool


# ----- typed values ------------------------------------------------------------------------------
def _guess(value: FilterValue) -> str | int | float | bool:
    """A value of a field outside the catalogue: quoted is text, bare may be a number or true/false."""
    if value.quoted:
        return value.text
    lowered = value.text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            number = kind(value.text)
        except ValueError:
            continue
        if math.isfinite(number):  # "nan" and "inf" stay words
            return number
    return value.text


def _number(field: str, value: FilterValue) -> int | float:
    guessed = _guess(value)
    if isinstance(guessed, bool) or not isinstance(guessed, (int, float)):
        raise filter_error(f"{field!r} compares numbers, got {value.text!r}.")
    return guessed


def _bool(field: str, value: FilterValue) -> bool:
    lowered = value.text.lower()
    if lowered not in ("true", "false", "yes", "no"):
        raise filter_error(f"{field!r} is true or false, got {value.text!r}.")
    return lowered in ("true", "yes")


def _date_span(field: str, value: FilterValue) -> tuple[int, int, bool]:
    """(first second, first second after, is an instant) of a period or an instant."""
    text = value.text.strip()
    period = _PERIOD.fullmatch(text)
    try:
        if period:
            year, month, day = int(period.group(1)), int(period.group(2) or 1), int(period.group(3) or 1)
            first = date(year, month, day)
            if period.group(3):
                after = first + timedelta(days=1)
            elif period.group(2):
                after = date(year + (month == 12), month % 12 + 1, 1)
            else:
                after = date(year + 1, 1, 1)
            return day_start(first), day_start(after), False
        moment = epoch_seconds(datetime.fromisoformat(text))
        return moment, moment, True
    except ValueError:
        raise filter_error(
            f"{field!r} compares dates such as 2020-06-30 or 2020-06-30T12:00, got {value.text!r}.") from None


# ----- clauses -> where ------------------------------------------------------------------------
def _date_clause(field: str, op: str, values: list[FilterValue]) -> dict:
    key = BY_NAME[field].filter_key
    spans = [_date_span(field, v) for v in values]
    if op in ("=", "=="):
        (start, after, instant), = spans
        return {key: {"$eq": start}} if instant else combine({key: {"$gte": start}}, {key: {"$lt": after}})
    if op == "between":
        (low, _, _), (start, after, instant) = spans
        if low > start:
            raise filter_error(f"The range of {field!r} starts after it ends ({values[0].text} > {values[1].text}).")
        return combine({key: {"$gte": low}}, {key: {"$lte": start} if instant else {"$lt": after}})
    if op in RANGE_OPERATORS:
        (start, after, instant), = spans
        bound = {">=": ("$gte", start), "<": ("$lt", start),
                 ">": ("$gt", start) if instant else ("$gte", after),
                 "<=": ("$lte", start) if instant else ("$lt", after)}[op]
        return {key: {bound[0]: bound[1]}}
    raise filter_error(f"{field!r} is a date: compare it with =, <, <=, >, >= or between, not {op!r}.")


def _list_clause(field: str, op: str, values: list[FilterValue]) -> dict:
    key = BY_NAME[field].filter_key
    words = [v.text.casefold() for v in values]
    if op in ("=", "==", "contains", "in", "contains any"):
        return any_of(key, words)
    if op in ("!=", "not in"):
        return combine(*({key: {"$not_contains": w}} for w in words))
    raise filter_error(f"{field!r} is a list: use contains, contains any (...), =, != or in (...), not {op!r}.")


def _scalar_clause(field: str, op: str, values: list[FilterValue]) -> dict:
    kind = BY_NAME[field].kind if field in BY_NAME else None
    if op in ("contains", "contains any"):
        raise filter_error(f"contains works on list fields such as keywords, not on {field!r}.")
    if kind in ("text", "bool") and (op in RANGE_OPERATORS or op == "between"):
        what = "text" if kind == "text" else "true or false"
        raise filter_error(f"{field!r} is {what}: ranges work on numbers and dates.")
    if op in RANGE_OPERATORS or op == "between" or kind == "number":
        typed = [_number(field, v) for v in values]
    elif kind == "bool":
        typed = [_bool(field, v) for v in values]
    elif kind == "text":
        typed = [v.text for v in values]
    else:
        typed = [_guess(v) for v in values]
    if op == "between":
        low, high = typed
        if low > high:
            raise filter_error(f"The range of {field!r} starts after it ends ({low} > {high}).")
        return combine({field: {"$gte": low}}, {field: {"$lte": high}})
    if op in ("in", "not in"):
        if len({type(v) for v in typed}) > 1:
            raise filter_error(f"The values after {op!r} must all be numbers or all text; quote numbers meant as text.")
        return {field: {"$in" if op == "in" else "$nin": typed}}
    return {field: {{"=": "$eq", "==": "$eq", "!=": "$ne", **RANGE_OPERATORS}[op]: typed[0]}}


def clause_where(field: str, op: str, values: list[FilterValue]) -> dict:
    """The `where` of one clause, typed by the field's kind in the catalogue (date, list or scalar)."""
    kind = BY_NAME[field].kind if field in BY_NAME else None
    if kind == "date":
        return _date_clause(field, op, values)
    if kind == "list":
        return _list_clause(field, op, values)
    return _scalar_clause(field, op, values)
