"""Editors' relevance judgements: a right/wrong mark (or "this is the one") per query and hit.

Stored per store in `<store>/judgements.sqlite` (one table, keyed by collection, query and item), in
WAL mode with a busy timeout and short IMMEDIATE write transactions, so several app replicas, CLI
runs and ingest workers on the same machine can mark and read at once. A query is kept as typed; it
is matched on its normalised form (lower case, single spaces), so "Red  Circle" and "red circle" are
one query. Export and import use the relevance CSV that `evaluate --relevance` reads: `query,relevant`
(ids separated by `|`), plus `wrong` and `the_one` columns that evaluation ignores and import restores.
"""
from __future__ import annotations

import csv
import io
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from imgsearch_core.search.export import neutralise_formula
from imgsearch_core.evaluation.query_sources import (
    EvalQuery,
    EvaluationError,
    QuerySet,
    leak_free,
    name_index,
    read_relevance_rows,
    resolve_names,
)

RIGHT, WRONG, THE_ONE = "right", "wrong", "the_one"
VERDICTS: tuple[str, ...] = (RIGHT, WRONG, THE_ONE)
RELEVANT_VERDICTS = frozenset({RIGHT, THE_ONE})
FILE_NAME = "judgements.sqlite"
BUSY_MS = 30_000
CSV_COLUMNS = ("query", "relevant", "wrong", "the_one")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgements (
    collection TEXT NOT NULL,
    query_key TEXT NOT NULL,
    query TEXT NOT NULL,
    item_id TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'the_one')),
    updated REAL NOT NULL,
    PRIMARY KEY (collection, query_key, item_id)
)
"""


def query_key(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Judgement:
    collection: str
    query: str
    item_id: str
    verdict: str
    updated: float


class JudgementStore:
    """The judgements of one store directory (every collection's), in a small SQLite file."""

    def __init__(self, store_root: Path | str) -> None:
        self.path = Path(store_root) / FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    @classmethod
    def of(cls, collection) -> "JudgementStore":
        """The judgement store beside a collection's store (imgsearch_core.store.collection.Collection)."""
        return cls(collection._store.root)  # noqa: SLF001 - the store directory is the collection's home

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)) as db:
            db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            yield db

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ----- writing --------------------------------------------------------------------------------
    def mark(self, collection: str, query: str, item_id: str, verdict: str | None) -> None:
        """Set (or with None, clear) the verdict on one hit of one query. "the_one" is exclusive: marking
        a hit as the one makes any other "the one" of that query a plain "right"."""
        self.mark_many(collection, [(query, item_id, verdict)])

    def mark_many(self, collection: str, marks: Sequence[tuple[str, str, str | None]]) -> int:
        for query, item_id, verdict in marks:
            if verdict is not None and verdict not in VERDICTS:
                raise EvaluationError(f"Unknown verdict {verdict!r}: use one of {', '.join(VERDICTS)}.")
            if not query.strip() or not item_id:
                raise EvaluationError("A judgement needs a query and an item id.")
        now = time.time()
        with self._writing() as db:
            for query, item_id, verdict in marks:
                key = query_key(query)
                if verdict is None:
                    db.execute("DELETE FROM judgements WHERE collection=? AND query_key=? AND item_id=?",
                               (collection, key, item_id))
                    continue
                if verdict == THE_ONE:
                    db.execute("UPDATE judgements SET verdict='right', updated=? WHERE collection=? AND query_key=? "
                               "AND verdict='the_one' AND item_id<>?", (now, collection, key, item_id))
                db.execute(
                    "INSERT INTO judgements VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (collection, query_key, item_id) "
                    "DO UPDATE SET verdict=excluded.verdict, query=excluded.query, updated=excluded.updated",
                    (collection, key, query.strip(), item_id, verdict, now))
        return len(marks)

    # ----- reading --------------------------------------------------------------------------------
    def verdicts(self, collection: str, query: str) -> dict[str, str]:
        """item id -> verdict for one query."""
        with self._connect() as db:
            rows = db.execute("SELECT item_id, verdict FROM judgements WHERE collection=? AND query_key=?",
                              (collection, query_key(query))).fetchall()
        return dict(rows)

    def all(self, collection: str) -> list[Judgement]:
        with self._connect() as db:
            rows = db.execute("SELECT collection, query, item_id, verdict, updated FROM judgements WHERE collection=? "
                              "ORDER BY query_key, item_id", (collection,)).fetchall()
        return [Judgement(*row) for row in rows]

    def count(self, collection: str) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM judgements WHERE collection=?", (collection,)).fetchone()[0])

    def by_query(self, collection: str) -> dict[str, dict[str, str]]:
        """Query text (as last typed) -> {item id: verdict}."""
        grouped: dict[str, dict[str, str]] = {}
        texts: dict[str, str] = {}
        for j in self.all(collection):
            key = query_key(j.query)
            texts.setdefault(key, j.query)
            grouped.setdefault(key, {})[j.item_id] = j.verdict
        return {texts[key]: marks for key, marks in grouped.items()}

    # ----- the relevance CSV ------------------------------------------------------------------------
    def export_csv(self, collection: str) -> bytes:
        """One row per judged query: relevant (right or the one), wrong and the_one ids, `|` separated. A query
        a spreadsheet would run as a formula gets a leading quote, as in the results export."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for query, marks in self.by_query(collection).items():
            ids = {v: sorted(i for i, verdict in marks.items() if verdict == v) for v in VERDICTS}
            relevant = sorted(ids[RIGHT] + ids[THE_ONE])
            cells = [query, "|".join(relevant), "|".join(ids[WRONG]), "|".join(ids[THE_ONE])]
            writer.writerow([neutralise_formula(cell) for cell in cells])
        return out.getvalue().encode("utf-8")

    def import_csv(self, collection: str, data: bytes, items: Sequence,
                   max_bytes: int | None = None) -> tuple[int, list[str]]:
        """Judgements from a relevance CSV (ids or file names): `relevant` ones become right, and the
        optional `wrong` and `the_one` columns restore those verdicts. Returns (marks written, notes).
        A file over `max_bytes` (Settings.max_relevance_bytes) is refused."""
        rows, query_col, relevant_col = read_relevance_rows(data, max_bytes)
        by_name = name_index(items)
        marks: dict[tuple[str, str], str] = {}  # one verdict per (query, item): a later column wins
        unknown: set[str] = set()
        for row in rows:
            text = (row.get(query_col) or "").strip()
            if not text:
                continue
            for column, verdict in ((relevant_col, RIGHT), ("wrong", WRONG), ("the_one", THE_ONE)):
                ids, missing = resolve_names(row.get(column) or "", by_name)
                unknown |= missing
                marks.update({(text, i): verdict for i in sorted(ids)})
        notes = [f"{len(unknown)} names match no item (e.g. {sorted(unknown)[0]!r})."] if unknown else []
        return self.mark_many(collection, [(q, i, v) for (q, i), v in marks.items()]), notes


# ----- as an evaluation query source ----------------------------------------------------------------------
@dataclass(frozen=True)
class JudgedQueries:
    """Each judged query with the hits marked right (or the one) as its relevant items. A query whose
    text is an indexed caption is dropped (no-leak rule), as are queries with only "wrong" marks."""

    judgements: JudgementStore
    collection: str
    name: str = "judgements"

    def queries(self, items: Sequence) -> QuerySet | None:
        present = {item.id for item in items}
        queries = [EvalQuery(text, frozenset(i for i, v in marks.items() if v in RELEVANT_VERDICTS and i in present))
                   for text, marks in self.judgements.by_query(self.collection).items()]
        return leak_free(self.name, queries, items)
