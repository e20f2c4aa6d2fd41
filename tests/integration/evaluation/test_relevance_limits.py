"""Relevance files (evaluation and judgement imports) within bounds: name resolution linear in rows + items,
and a file over Settings.max_relevance_bytes refused before it is read."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from imgsearch_core.store.records import StoredItem
from imgsearch_core.evaluation.judgements import JudgementStore
from imgsearch_core.evaluation.query_sources import EvaluationError, queries_from_relevance_file, read_relevance_rows

ITEMS = 20_000
ROWS = 2_000
SECONDS = 6.0  # linear: ~0.8 s here; the former per-row name index made ~320 M dict updates (over a minute)


def catalogue(count: int) -> list[StoredItem]:
    return [StoredItem(f"{n:064x}", f"caption {n}", {"file_name": f"IMG_{n:05d}.png"}, Path("unused"))
            for n in range(count)]


def relevance_csv(rows: int) -> bytes:
    lines = ["query,relevant,wrong"]
    lines += [f"query number {n},img_{n:05d}.png|{(n + 1):064x},img_{(n + 2):05d}.png" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_many_rows_against_many_items_resolve_in_linear_time(tmp_path):
    items, data = catalogue(ITEMS), relevance_csv(ROWS)
    started = time.perf_counter()
    query_set = queries_from_relevance_file(data, items)
    written, notes = JudgementStore(tmp_path).import_csv("photos", data, items)
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"{elapsed:.1f} s for {ROWS:,} rows x {ITEMS:,} items"
    assert len(query_set.queries) == ROWS and not query_set.notes
    assert query_set.queries[5].relevant == frozenset({f"{5:064x}", f"{6:064x}"})  # by file name (any case) and id
    assert written == 3 * ROWS and not notes


def test_a_file_over_the_limit_is_refused_naming_the_setting(tmp_path):
    data = relevance_csv(3)
    with pytest.raises(EvaluationError, match=rf"{len(data):,} bytes, over the limit of 100 "
                                              r"\(IMGSEARCH_MAX_RELEVANCE_BYTES\)"):
        read_relevance_rows(data, max_bytes=100)
    with pytest.raises(EvaluationError, match="IMGSEARCH_MAX_RELEVANCE_BYTES"):
        JudgementStore(tmp_path).import_csv("photos", data, catalogue(5), max_bytes=100)
    assert JudgementStore(tmp_path).count("photos") == 0
    assert len(read_relevance_rows(data, max_bytes=len(data))[0]) == 3
