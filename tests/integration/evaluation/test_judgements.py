"""Judgements on a real store: CSV round trip through the relevance reader, several writing processes,
evaluation with judgements as the query source (no-leak rule), the CLI export and import."""
import json
import multiprocessing
import subprocess
import sys

import pytest

from imgsearch_core.evaluation.evaluate import choose_query_set, evaluate
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.evaluation.judgements import JudgedQueries, JudgementStore, query_key
from imgsearch_core.evaluation.query_sources import QuerySource, queries_from_relevance_file
from imgsearch_core.search.engine import Searcher
from tests.helpers import write_images


@pytest.fixture
def photos(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "p", 12)
    items, _ = collect(tmp_path / "p")
    ingest(store, "photos", tiny_embedder, items)
    return Searcher(store.open("photos"), tiny_embedder)


def test_export_import_round_trip_through_the_relevance_reader(photos, store, tmp_path):
    items = photos.collection.all_items()
    a, b, c = (i.id for i in items[:3])
    judgements = JudgementStore(store.root)
    judgements.mark_many("photos", [("Harbour  Boats", a, "right"), ("harbour boats", b, "the_one"),
                                    ("harbour boats", c, "wrong"), ("only wrong", a, "wrong"), ("red city", c, "right")])
    judgements.mark("other", "red city", a, "right")  # another collection's marks stay out
    data = judgements.export_csv("photos")
    read = queries_from_relevance_file(data, items)
    assert {" ".join(q.text.lower().split()): set(q.relevant) for q in read.queries} == {"harbour boats": {a, b}, "red city": {c}}
    fresh = JudgementStore(tmp_path / "elsewhere")
    names = data.decode().replace(a, items[0].metadata["file_name"])  # file names resolve as well as ids
    written, notes = fresh.import_csv("photos", names.encode(), items)
    assert notes == [] and written == 5  # one mark per judged (query, item): the_one is not counted twice
    assert {(query_key(j.query), j.item_id, j.verdict) for j in fresh.all("photos")} == \
        {(query_key(j.query), j.item_id, j.verdict) for j in judgements.all("photos")}
    assert fresh.export_csv("photos") == data


def _writer(root: str, worker: int, n: int) -> None:
    store = JudgementStore(root)
    for i in range(n):
        store.mark("photos", f"query {i % 5}", f"item-{worker}-{i}", ("right", "wrong", "the_one")[i % 3])


def test_several_processes_mark_at_once_and_nothing_is_lost(tmp_path):
    JudgementStore(tmp_path)  # the schema, once
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), w, 60)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    store = JudgementStore(tmp_path)
    assert store.count("photos") == 240
    with store._connect() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_evaluate_uses_judgements_with_the_no_leak_rule(photos, store):
    items = photos.collection.all_items()
    judgements = JudgementStore(store.root)
    judgements.mark("photos", "harbour at dusk", items[0].id, "right")
    judgements.mark("photos", items[1].caption, items[1].id, "the_one")  # an indexed caption: dropped
    judgements.mark("photos", "no relevant here", items[2].id, "wrong")   # nothing relevant: dropped
    source = JudgedQueries(judgements, "photos")
    assert isinstance(source, QuerySource)
    query_set = choose_query_set(photos.collection)  # automatic: judgements come before the other sources
    assert query_set.source == "judgements" and query_set.dropped_leaks == 2
    assert [(q.text, set(q.relevant)) for q in query_set.queries] == [("harbour at dusk", {items[0].id})]
    result = evaluate(photos, source="judgements")
    assert result.query_set.source == "judgements" and set(result.table["queries"]) == {1}


def test_cli_judgements_export_and_import(photos, store, settings, tmp_path):
    item = photos.collection.all_items()[0]
    JudgementStore(store.root).mark("photos", "harbour at dusk", item.id, "the_one")
    base = [sys.executable, "-m", "imgsearch_core", "judgements", "--store", str(settings.store_dir),
            "--collection", "photos", "--json"]
    out = tmp_path / "j.csv"
    done = subprocess.run(base[:4] + ["export", str(out)] + base[4:], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queries"] == 1
    assert out.read_text().splitlines() == ["query,relevant,wrong,the_one", f"harbour at dusk,{item.id},,{item.id}"]
    JudgementStore(store.root).mark("photos", "harbour at dusk", item.id, None)
    done = subprocess.run(base[:4] + ["import", str(out)] + base[4:], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert JudgementStore(store.root).verdicts("photos", "Harbour at dusk") == {item.id: "the_one"}
