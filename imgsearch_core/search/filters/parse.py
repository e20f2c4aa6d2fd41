"""One metadata filter language for the CLI, the app pages and evaluation -> a Chroma `where` dict.

Why one module: a filter typed on the Text search page or given to `--where` must mean the same thing
everywhere. This module reads the two written forms; what one clause means (dates on their `_ts` twin,
lists case-insensitive on their `_lc` twin) is in filter_clauses.py, the errors too (`FilterError`), and
combining filters or building one from the page's widgets in filter_where.py. A field name that no item
carries is refused with the list of names that exist.

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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imgsearch_core.fields import FIELDS, is_twin
from imgsearch_core.search.filters.clauses import (
    RANGE_OPERATORS,
    FilterError,
    FilterValue,
    check_field,
    clause_where,
    filter_error,
)
from imgsearch_core.search.filters.where import combine

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$contains", "$not_contains")
LOGICAL = ("$and", "$or")
_FIELD_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_TOKEN = re.compile(
    r"""\s*(?:(?P<quoted>"[^"]*"|'[^']*')|(?P<op>==|!=|>=|<=|=|>|<)|(?P<punct>[(),\[\]])"""
    r"""|(?P<word>[^\s"'(),\[\]=!<>][^\s"(),\[\]=!<>]*)|(?P<bad>\S))"""
)


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
                raise filter_error(f"A quote ({value}) in the filter is not closed.")
            raise filter_error(f"Cannot read {value!r} in the filter.")
        start = match.start(kind)
        tokens.append(_Token(kind, value[1:-1] if kind == "quoted" else value, start, match.end(kind)))
        pos = match.end()
    return tokens


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
        return filter_error(f"Cannot read the filter part {clause.strip()!r}.")

    def value(self, start: int, stop_at_and: bool) -> FilterValue:
        token = self.peek()
        if token is not None and token.kind == "quoted":
            self.pos += 1
            return FilterValue(token.text, True)
        words = []
        while (token := self.peek()) is not None and token.kind == "word" and not (stop_at_and and token.is_word("and")):
            words.append(self.take())
        if not words:
            raise filter_error("A filter value is missing.") if token is None else self.unreadable(start)
        return FilterValue(self.text[words[0].start:words[-1].end], False)

    def values_in_brackets(self, start: int, op: str) -> list[FilterValue]:
        opening = self.take()
        if opening is None or not opening.is_punct("(", "["):
            raise filter_error(f"{op!r} needs a list in brackets, e.g. `city in (Kiel, Hamburg)`.")
        closing = ")" if opening.text == "(" else "]"
        values: list[FilterValue] = []
        while True:
            token = self.peek()
            if token is None:
                raise filter_error(f"The list after {op!r} has no closing {closing!r}.")
            if token.is_punct(closing):
                self.pos += 1
                break
            if token.is_punct(","):
                self.pos += 1
                continue
            values.append(self.value(start, stop_at_and=False))
        if not values:
            raise filter_error(f"The list after {op!r} is empty.")
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
            return clause_where(field, token.text, [self.value(start, stop_at_and=True)])
        if token.is_word("in"):
            return clause_where(field, "in", self.values_in_brackets(start, "in"))
        if token.is_word("not") and (nxt := self.take()) is not None and nxt.is_word("in"):
            return clause_where(field, "not in", self.values_in_brackets(start, "not in"))
        if token.is_word("between"):
            low = self.value(start, stop_at_and=True)
            if not ((nxt := self.take()) and nxt.is_word("and")):
                raise filter_error(f"'between' needs two values joined by 'and', e.g. `{field} between 100 and 2000`.")
            return clause_where(field, "between", [low, self.value(start, stop_at_and=True)])
        if token.is_word("contains"):
            if (nxt := self.peek()) is not None and nxt.is_word("any"):
                self.pos += 1
                return clause_where(field, "contains any", self.values_in_brackets(start, "contains any"))
            return clause_where(field, "contains", [self.value(start, stop_at_and=True)])
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
        raise filter_error("A JSON filter must be a non-empty object.")
    parts = []
    for key, value in where.items():
        if key in LOGICAL:
            if not isinstance(value, list) or not value:
                raise filter_error(f"{key} takes a non-empty list of filters.")
            checked = [_check_json(part, known) for part in value]
            parts.append(checked[0] if len(checked) == 1 else {key: checked})
            continue
        if key.startswith("$"):
            raise filter_error(f"Unknown operator {key!r}; filters combine with {', '.join(LOGICAL)}.")
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
        raise filter_error(f"The condition on {key!r} must be a value or one operator such as {{\"$eq\": ...}}.")
    (operator, operand), = value.items()
    if operator not in COMPARISONS:
        raise filter_error(f"Unknown operator {operator!r} on {key!r}; known operators: {', '.join(COMPARISONS)}.")
    if operator in RANGE_OPERATORS.values() and (isinstance(operand, bool) or not isinstance(operand, (int, float))):
        raise filter_error(f"{operator} on {key!r} compares numbers, got {operand!r}.")
    if operator in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand or not all(_is_scalar(v) for v in operand):
            raise filter_error(f"{operator} on {key!r} takes a non-empty list of values.")
        if len({type(v) for v in operand}) > 1:
            raise filter_error(f"The values of {operator} on {key!r} must all have one type.")
    elif not _is_scalar(operand):
        raise filter_error(f"{operator} on {key!r} takes one value, got {operand!r}.")
    return value


# ----- public ---------------------------------------------------------------------------------
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
            raise filter_error(f"The filter is not valid JSON ({exc.msg} at character {exc.pos}).") from None
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

