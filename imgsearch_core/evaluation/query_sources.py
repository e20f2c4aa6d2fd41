"""Where evaluation queries come from: one interface, so every source is interchangeable.

A query source has a `name` and `queries(items) -> QuerySet | None` (None: it has nothing for these
items). Sources here: a relevance file (`RelevanceFile`), alternative captions held out from indexing
(`HeldOutCaptions`); editors' judgements are `imgsearch_core.evaluation.judgements.JudgedQueries`; generated demo
scenes register themselves from `imgsearch_core.demo.eval_source` (loaded by name, as a plugin, so the
core never imports the demo). Every source applies the no-leak rule: a query whose text is an indexed
caption is dropped (and counted), so no query is scored against an index holding its own text.

A source may also offer `groups(items) -> dict[id, label]` for the image-to-image measure.
"""
from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from imgsearch_core.media.caption_files import ALT_CAPTIONS_KEY, ALT_CAPTIONS_SEPARATOR

QUERY_COLUMNS = ("query", "text", "question")
RELEVANT_COLUMNS = ("relevant", "relevant_ids", "relevant_files", "files", "ids")
RELEVANT_SEPARATORS = ("|", ";")
PLUGINS: tuple[str, ...] = ("imgsearch_core.demo.eval_source",)  # modules that register sources on import


class EvaluationError(ValueError):
    """The collection or the relevance file cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class EvalQuery:
    text: str
    relevant: frozenset[str]


@dataclass(frozen=True)
class QuerySet:
    source: str  # the source's name: "relevance file", "judgements", "held-out captions", "demo scenes"
    queries: list[EvalQuery]
    dropped_leaks: int = 0
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class QuerySource(Protocol):
    name: str

    def queries(self, items: Sequence) -> QuerySet | None: ...


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def without_leaks(queries: Sequence[EvalQuery], items: Sequence) -> tuple[list[EvalQuery], int]:
    """Drop queries whose text is an indexed caption (and queries without a relevant item)."""
    indexed = {_normalise(item.caption) for item in items if item.caption.strip()}
    kept = [q for q in queries if _normalise(q.text) not in indexed and q.relevant]
    return kept, len(queries) - len(kept)


def leak_free(name: str, queries: Sequence[EvalQuery], items: Sequence, notes: list[str] | None = None) -> QuerySet | None:
    """The QuerySet of `queries` after the no-leak rule; None when nothing is left."""
    kept, leaks = without_leaks(queries, items)
    return QuerySet(name, kept, leaks, notes or []) if kept else None


# ----- a relevance file ----------------------------------------------------------------------------
def _column(header: list[str], wanted: tuple[str, ...], what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    raise EvaluationError(f"The relevance file needs a {what} column ({', '.join(wanted)}); found {', '.join(header) or 'none'}.")


def read_relevance_rows(data: bytes, max_bytes: int | None = None) -> tuple[list[dict[str, str]], str, str]:
    """The rows of a relevance CSV and the names of its query and relevant columns; a file over `max_bytes`
    (Settings.max_relevance_bytes) is refused before it is read."""
    if max_bytes is not None and len(data) > max_bytes:
        raise EvaluationError(f"The relevance file has {len(data):,} bytes, over the limit of {max_bytes:,} "
                              "(IMGSEARCH_MAX_RELEVANCE_BYTES).")
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise EvaluationError(f"The relevance file is not a readable UTF-8 CSV ({exc}).") from exc
    if not rows:
        raise EvaluationError("The relevance file has no rows.")
    return rows, _column(list(rows[0]), QUERY_COLUMNS, "query"), _column(list(rows[0]), RELEVANT_COLUMNS, "relevant")


NameIndex = dict[str, set[str]]


def name_index(items: Sequence) -> NameIndex:
    """Lower-cased file name, and id, -> ids: built once per file, so resolving its rows is linear."""
    by_name: NameIndex = {}
    for item in items:
        by_name.setdefault(str(item.metadata.get("file_name", "")).lower(), set()).add(item.id)
        by_name.setdefault(item.id, set()).add(item.id)
    return by_name


def resolve_names(raw: str, by_name: NameIndex) -> tuple[set[str], set[str]]:
    """Ids for a `|` or `;` separated list of file names (any case) or ids (looked up in `name_index`);
    and the names matching none."""
    for separator in RELEVANT_SEPARATORS:
        raw = raw.replace(separator, "\n")
    names = [n.strip() for n in raw.splitlines() if n.strip()]
    ids = {i for n in names for i in by_name.get(n.lower(), by_name.get(n, set()))}
    return ids, {n for n in names if n.lower() not in by_name and n not in by_name}


def queries_from_relevance_file(data: bytes, items: Sequence, max_bytes: int | None = None) -> QuerySet:
    """CSV with a query column and a relevant column (file names or ids, separated by | or ;)."""
    rows, query_col, relevant_col = read_relevance_rows(data, max_bytes)
    by_name = name_index(items)
    queries, unknown = [], set()
    for row in rows:
        text = (row.get(query_col) or "").strip()
        relevant, missing = resolve_names(row.get(relevant_col) or "", by_name)
        unknown |= missing
        if text:
            queries.append(EvalQuery(text, frozenset(relevant)))
    notes = [f"{len(unknown)} relevant names match no item (e.g. {sorted(unknown)[0]!r})."] if unknown else []
    query_set = leak_free("relevance file", queries, items, notes)
    if query_set is None:
        raise EvaluationError("No query in the relevance file has a relevant item in this collection.")
    return query_set


@dataclass(frozen=True)
class RelevanceFile:
    data: bytes
    name: str = "relevance file"
    max_bytes: int | None = None  # Settings.max_relevance_bytes

    def queries(self, items: Sequence) -> QuerySet:
        return queries_from_relevance_file(self.data, items, self.max_bytes)


# ----- held-out alternative captions ------------------------------------------------------------------
def queries_from_held_out_captions(items: Sequence) -> QuerySet | None:
    """Items with two or more captions: the indexed one stays, each other one becomes a query."""
    queries = [EvalQuery(text.strip(), frozenset({item.id}))
               for item in items
               for text in str(item.metadata.get(ALT_CAPTIONS_KEY, "")).split(ALT_CAPTIONS_SEPARATOR) if text.strip()]
    return leak_free("held-out captions", queries, items)


@dataclass(frozen=True)
class HeldOutCaptions:
    name: str = "held-out captions"

    def queries(self, items: Sequence) -> QuerySet | None:
        return queries_from_held_out_captions(items)


# ----- registered sources (plugins) ---------------------------------------------------------------------
_REGISTERED: dict[str, Callable[[], QuerySource]] = {}


def register(name: str, factory: Callable[[], QuerySource]) -> None:
    """Offer a query source to every evaluation (tried after the built-in ones, in registration order)."""
    _REGISTERED[name] = factory


def registered() -> list[QuerySource]:
    for module in PLUGINS:
        try:
            importlib.import_module(module)
        except ImportError:  # a plugin that is not installed offers nothing
            continue
    return [factory() for factory in _REGISTERED.values()]
