"""One metadata filter language for the CLI, the app pages and evaluation -> a Chroma `where` dict.

Why one module: a filter typed on the Text search page, given to `--where` or built from the page's
widgets must mean the same thing everywhere. The language knows the field catalogue (fields.py):
dates compare as epoch seconds on their `_ts` twin, list fields match case-insensitively on their
`_lc` twin, and a field name that no item carries is refused with the list of names that exist.

Forms (clauses joined by `,` or `and` must all hold):
    credit = Reuters            credit != AP              credit = "Smith, J."
    city in (Kiel, Hamburg)     country not in (DE, FR)
    width >= 1000               width between 100 and 2000
    date_taken >= 2020-01-01    date_taken < 2021-06-30T12:00    date_taken between 2020 and 2020-06
    has caption                 has no caption            captioned = false
    keywords contains harbour   keywords contains any (harbour, boat)
or a raw JSON Chroma filter, checked for known operators and field names.

A date value is a period (`2020`, `2020-06`, `2020-06-30`) or an instant (`2020-06-30T12:00`, UTC unless
it carries an offset). A period as a lower bound starts at its first second; as an upper bound of
`<=` or `between` it includes the whole period; `=` a period means within it; `>` a period means after it.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from imgsearch_core.fields import BY_NAME, FIELDS, is_twin

FILTER_HELP = (
    "Filter on metadata, e.g. `credit = Reuters`, `credit != AP`, `credit = \"Smith, J.\"`, "
    "`city in (Kiel, Hamburg)`, `country not in (DE, FR)`, `width >= 1000`, `width between 100 and 2000`, "
    "`date_taken >= 2020-01-01`, `date_taken between 2020-01-01 and 2020-12-31`, `has caption`, "
    "`has no caption`, `keywords contains harbour`, `keywords contains any (harbour, boat)`. "
    "Join clauses with `,` or `and` (all must hold); quote values that hold a comma, a bracket or the word "
    'and. A JSON Chroma filter such as `{"credit": "Reuters"}` works too.'
)
COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains")
LOGICAL = ("$and", "$or")
_RANGE = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_FIELD_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_TOKEN = re.compile(
    r"""\s*(?:(?P<quoted>"[^"]*"|'[^']*')|(?P<op>==|!=|>=|<=|=|>|<)|(?P<punct>[(),\[\]])"""
    r"""|(?P<word>[^\s"'(),\[\]=!<>][^\s"(),\[\]=!<>]*)|(?P<bad>\S))"""
)
_PERIOD = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


class FilterError(ValueError):
    """A metadata filter that cannot be understood; the message says how to write one."""


def _fail(message: str) -> FilterError:
    return FilterError(f"{message} {FILTER_HELP}")


# ----- tokens ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    kind: str  # quoted | op | punct | word
    text: str  # a quoted token's text is what is inside the quotes
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def is_punct(self, *chars: str) -> bool:
        return self.kind == "punct" and self.text in chars


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # only trailing white space is left
            break
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "bad":
            if value in "\"'":
                raise _fail(f"A quote ({value}) in the filter is not closed.")
            raise _fail(f"Cannot read {value!r} in the filter.")
        start = match.start(kind)
        tokens.append(_Token(kind, value[1:-1] if kind == "quoted" else value, start, match.end(kind)))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class _Value:
    text: str
    quoted: bool


# ----- typed values ------------------------------------------------------------------------------
def _guess(value: _Value) -> str | int | float | bool:
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


def _number(field: str, value: _Value) -> int | float:
    guessed = _guess(value)
    if isinstance(guessed, bool) or not isinstance(guessed, (int, float)):
        raise _fail(f"{field!r} compares numbers, got {value.text!r}.")
    return guessed


def _bool(field: str, value: _Value) -> bool:
    lowered = value.text.lower()
    if lowered not in ("true", "false", "yes", "no"):
        raise _fail(f"{field!r} is true or false, got {value.text!r}.")
    return lowered in ("true", "yes")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _day_start(day: date) -> int:
    return _epoch(datetime(day.year, day.month, day.day))


def _date_span(field: str, value: _Value) -> tuple[int, int, bool]:
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
            return _day_start(first), _day_start(after), False
        moment = _epoch(datetime.fromisoformat(text))
        return moment, moment, True
    except ValueError:
        raise _fail(f"{field!r} compares dates such as 2020-06-30 or 2020-06-30T12:00, got {value.text!r}.") from None


# ----- clauses -> where ------------------------------------------------------------------------
def _date_clause(field: str, op: str, values: list[_Value]) -> dict:
    key = BY_NAME[field].filter_key
    spans = [_date_span(field, v) for v in values]
    if op in ("=", "=="):
        (start, after, instant), = spans
        return {key: {"$eq": start}} if instant else combine({key: {"$gte": start}}, {key: {"$lt": after}})
    if op == "between":
        (low, _, _), (start, after, instant) = spans
        if low > start:
            raise _fail(f"The range of {field!r} starts after it ends ({values[0].text} > {values[1].text}).")
        return combine({key: {"$gte": low}}, {key: {"$lte": start} if instant else {"$lt": after}})
    if op in _RANGE:
        (start, after, instant), = spans
        bound = {">=": ("$gte", start), "<": ("$lt", start),
                 ">": ("$gt", start) if instant else ("$gte", after),
                 "<=": ("$lte", start) if instant else ("$lt", after)}[op]
        return {key: {bound[0]: bound[1]}}
    raise _fail(f"{field!r} is a date: compare it with =, <, <=, >, >= or between, not {op!r}.")


def _list_clause(field: str, op: str, values: list[_Value]) -> dict:
    key = BY_NAME[field].filter_key
    words = [v.text.casefold() for v in values]
    if op in ("=", "==", "contains", "in", "contains any"):
        return _any_of(key, words)
    if op in ("!=", "not in"):
        return combine(*({key: {"$not_contains": w}} for w in words))
    raise _fail(f"{field!r} is a list: use contains, contains any (...), =, != or in (...), not {op!r}.")


def _any_of(key: str, words: Sequence[str]) -> dict:
    parts = [{key: {"$contains": w}} for w in words]
    return parts[0] if len(parts) == 1 else {"$or": parts}


def _scalar_clause(field: str, op: str, values: list[_Value]) -> dict:
    kind = BY_NAME[field].kind if field in BY_NAME else None
    if op in ("contains", "contains any"):
        raise _fail(f"contains works on list fields such as keywords, not on {field!r}.")
    if kind in ("text", "bool") and (op in _RANGE or op == "between"):
        raise _fail(f"{field!r} is {'text' if kind == 'text' else 'true or false'}: ranges work on numbers and dates.")
    if op in _RANGE or op == "between" or kind == "number":
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
            raise _fail(f"The range of {field!r} starts after it ends ({low} > {high}).")
        return combine({field: {"$gte": low}}, {field: {"$lte": high}})
    if op in ("in", "not in"):
        if len({type(v) for v in typed}) > 1:
            raise _fail(f"The values after {op!r} must all be numbers or all text; quote numbers meant as text.")
        return {field: {"$in" if op == "in" else "$nin": typed}}
    return {field: {{"=": "$eq", "==": "$eq", "!=": "$ne", **_RANGE}[op]: typed[0]}}


def _clause_where(field: str, op: str, values: list[_Value]) -> dict:
    kind = BY_NAME[field].kind if field in BY_NAME else None
    if kind == "date":
        return _date_clause(field, op, values)
    if kind == "list":
        return _list_clause(field, op, values)
    return _scalar_clause(field, op, values)


# ----- the text form ---------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str, known: set[str] | None) -> None:
        self.text, self.known = text, known
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token | None:
        token = self.peek()
        self.pos += token is not None
        return token

    def unreadable(self, start: int) -> FilterError:
        """The clause that starts at token `start`, up to the next top-level comma."""
        end, depth = start, 0
        while end < len(self.tokens) and not (depth == 0 and self.tokens[end].is_punct(",")):
            depth += self.tokens[end].is_punct("(", "[") - self.tokens[end].is_punct(")", "]")
            end += 1
        clause = self.text[self.tokens[start].start:self.tokens[end - 1].end] if end > start else self.text
        return _fail(f"Cannot read the filter part {clause.strip()!r}.")

    def value(self, start: int, stop_at_and: bool) -> _Value:
        token = self.peek()
        if token is not None and token.kind == "quoted":
            self.pos += 1
            return _Value(token.text, True)
        words = []
        while (token := self.peek()) is not None and token.kind == "word" and not (stop_at_and and token.is_word("and")):
            words.append(self.take())
        if not words:
            raise _fail("A filter value is missing.") if token is None else self.unreadable(start)
        return _Value(self.text[words[0].start:words[-1].end], False)

    def values_in_brackets(self, start: int, op: str) -> list[_Value]:
        opening = self.take()
        if opening is None or not opening.is_punct("(", "["):
            raise _fail(f"{op!r} needs a list in brackets, e.g. `city in (Kiel, Hamburg)`.")
        closing = ")" if opening.text == "(" else "]"
        values: list[_Value] = []
        while True:
            token = self.peek()
            if token is None:
                raise _fail(f"The list after {op!r} has no closing {closing!r}.")
            if token.is_punct(closing):
                self.pos += 1
                break
            if token.is_punct(","):
                self.pos += 1
                continue
            values.append(self.value(start, stop_at_and=False))
        if not values:
            raise _fail(f"The list after {op!r} is empty.")
        return values

    def field(self, start: int) -> str:
        token = self.take()
        if token is None or token.kind != "word" or not _FIELD_NAME.fullmatch(token.text):
            raise self.unreadable(start)
        check_field(token.text, self.known)
        return token.text

    def clause(self) -> dict:
        start = self.pos
        if (token := self.peek()) is not None and token.is_word("has"):
            self.pos += 1
            negated = bool((nxt := self.peek()) and nxt.is_word("no") and self.take())
            if (nxt := self.peek()) is not None and nxt.is_word("a"):
                self.pos += 1
            if not ((nxt := self.take()) and nxt.is_word("caption", "captions")):
                raise self.unreadable(start)
            check_field("captioned", self.known)
            return {"captioned": not negated}
        field = self.field(start)
        token = self.take()
        if token is None:
            raise self.unreadable(start)
        if token.kind == "op":
            return _clause_where(field, token.text, [self.value(start, stop_at_and=True)])
        if token.is_word("in"):
            return _clause_where(field, "in", self.values_in_brackets(start, "in"))
        if token.is_word("not") and (nxt := self.take()) is not None and nxt.is_word("in"):
            return _clause_where(field, "not in", self.values_in_brackets(start, "not in"))
        if token.is_word("between"):
            low = self.value(start, stop_at_and=True)
            if not ((nxt := self.take()) and nxt.is_word("and")):
                raise _fail(f"'between' needs two values joined by 'and', e.g. `{field} between 100 and 2000`.")
            return _clause_where(field, "between", [low, self.value(start, stop_at_and=True)])
        if token.is_word("contains"):
            if (nxt := self.peek()) is not None and nxt.is_word("any"):
                self.pos += 1
                return _clause_where(field, "contains any", self.values_in_brackets(start, "contains any"))
            return _clause_where(field, "contains", [self.value(start, stop_at_and=True)])
        raise self.unreadable(start)

    def parse(self) -> dict | None:
        clauses = []
        while (token := self.peek()) is not None:
            if token.is_punct(",") or (clauses and token.is_word("and")):
                self.pos += 1
                continue
            before = self.pos
            clauses.append(self.clause())
            if (nxt := self.peek()) is not None and not (nxt.is_punct(",") or nxt.is_word("and")):
                raise self.unreadable(before)
        return combine(*clauses)


# ----- JSON form -------------------------------------------------------------------------------
def _check_json(where: Any, known: set[str] | None) -> dict:
    """A raw Chroma filter, checked and normalised (several keys in one object mean all of them)."""
    if not isinstance(where, dict) or not where:
        raise _fail("A JSON filter must be a non-empty object.")
    parts = []
    for key, value in where.items():
        if key in LOGICAL:
            if not isinstance(value, list) or not value:
                raise _fail(f"{key} takes a non-empty list of filters.")
            checked = [_check_json(part, known) for part in value]
            parts.append(checked[0] if len(checked) == 1 else {key: checked})
            continue
        if key.startswith("$"):
            raise _fail(f"Unknown operator {key!r}; filters combine with {', '.join(LOGICAL)}.")
        if not is_twin(key, known or set()):
            check_field(key, known)
        parts.append({key: _check_condition(key, value)})
    return combine(*parts) or {}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _check_condition(key: str, value: Any) -> Any:
    if _is_scalar(value):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        raise _fail(f"The condition on {key!r} must be a value or one operator such as {{\"$eq\": ...}}.")
    (operator, operand), = value.items()
    if operator not in COMPARISONS:
        raise _fail(f"Unknown operator {operator!r} on {key!r}; known operators: {', '.join(COMPARISONS)}.")
    if operator in _RANGE.values() and (isinstance(operand, bool) or not isinstance(operand, (int, float))):
        raise _fail(f"{operator} on {key!r} compares numbers, got {operand!r}.")
    if operator in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand or not all(_is_scalar(v) for v in operand):
            raise _fail(f"{operator} on {key!r} takes a non-empty list of values.")
        if len({type(v) for v in operand}) > 1:
            raise _fail(f"The values of {operator} on {key!r} must all have one type.")
    elif not _is_scalar(operand):
        raise _fail(f"{operator} on {key!r} takes one value, got {operand!r}.")
    return value


# ----- public ---------------------------------------------------------------------------------
def check_field(name: str, known: Iterable[str] | None) -> None:
    """Refuse a field no item carries, naming the ones that exist (a typo should not mean 'no results')."""
    if known is not None and name not in known:
        raise FilterError(f"Unknown field {name!r}. Known fields: {', '.join(sorted(known))}.")


def parse_filter(text: str | None, known_fields: Iterable[str] | None = None) -> dict | None:
    """A filter typed by a user -> a Chroma `where` dict (None when empty); see the module docstring.

    With `known_fields`, a field outside it is an error. Raises FilterError with the accepted forms.
    """
    text = (text or "").strip()
    if not text:
        return None
    known = set(known_fields) if known_fields is not None else None
    if text.startswith("{"):
        try:
            where = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(f"The filter is not valid JSON ({exc.msg} at character {exc.pos}).") from None
        return _check_json(where, known)
    return _Parser(text, known).parse()


def known_fields(sample_metadatas: Iterable[Mapping[str, Any]]) -> list[str]:
    """Field names a filter may use: the catalogue (not hidden, not twins) plus every other key the
    sampled items carry (caption files add arbitrary columns), sorted."""
    hidden = {f.name for f in FIELDS if f.hidden}
    seen: set[str] = set()
    for metadata in sample_metadatas:
        seen.update(metadata)
    extra = {key for key in seen if key not in hidden and not is_twin(key, seen)}
    return sorted({f.name for f in FIELDS if not f.hidden} | extra)


def collection_fields(collection: Any, sample: int = 500) -> list[str]:
    """`known_fields` of a collection's first `sample` items (anything with Collection.page)."""
    return known_fields(item.metadata for item in collection.page(0, sample))


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
            parts.append(_any_of(BY_NAME[field].filter_key, [str(v).casefold() for v in values]))
        else:
            parts.append({field: {"$eq": values[0]}} if len(values) == 1 else {field: {"$in": list(values)}})
    if keywords_any:
        parts.append(_any_of(BY_NAME["keywords"].filter_key, [k.casefold() for k in keywords_any]))
    key = BY_NAME["date_taken"].filter_key
    if date_from is not None:
        parts.append({key: {"$gte": _day_start(date_from)}})
    if date_to is not None:
        parts.append({key: {"$lt": _day_start(date_to + timedelta(days=1))}})
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
