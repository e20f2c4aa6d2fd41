"""Evaluation on real stores: query-set sources, the no-leak rule, the sweep's ends, the CLI."""
import json
import subprocess
import sys

import pytest

from imgsearch_core.evaluation.evaluate import (
    EvalQuery,
    EvaluationError,
    best_alpha,
    choose_query_set,
    evaluate,
    queries_from_relevance_file,
    without_leaks,
)
from imgsearch_core.search.fusion import METHODS
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.search.engine import Searcher
from imgsearch_core.text.analysis import analyze_one
from tests.helpers import write_images, write_images_with_alternative_captions

@pytest.fixture
def photos(store, tiny_embedder, tmp_path):
    captions = write_images_with_alternative_captions(tmp_path / "p")
    items, problems = collect(tmp_path / "p", captions_file=captions)
    ingest(store, "photos", tiny_embedder, items, problems=problems)
    return Searcher(store.open("photos"), tiny_embedder)


def test_held_out_captions_are_queries_and_never_indexed(photos):
    query_set = choose_query_set(photos.collection)
    assert query_set.source == "held-out captions"
    assert len(query_set.queries) == 8 and query_set.dropped_leaks == 1
    indexed = {item.caption.lower() for item in photos.collection.all_items()}
    assert all(q.text.lower() not in indexed and len(q.relevant) == 1 for q in query_set.queries)
    assert photos.collection.bm25().top(analyze_one("gulls pier"), 5) == []  # held-out words are not indexed


def test_no_leak_rule_drops_queries_equal_to_an_indexed_caption(photos):
    items = photos.collection.all_items()
    queries = [EvalQuery(items[0].caption.upper() + "  ", frozenset({items[0].id})), EvalQuery("new words", frozenset({items[1].id}))]
    kept, dropped = without_leaks(queries, items)
    assert [q.text for q in kept] == ["new words"] and dropped == 1


@pytest.mark.parametrize("method", METHODS)
def test_sweep_ends_equal_text_and_vector_and_best_alpha_is_the_maximum(photos, method):
    result = evaluate(photos)
    table = result.table
    assert len(table) == 2 + 11 * len(METHODS)
    hybrid = table[(table["mode"] == "hybrid") & (table["method"] == method)].set_index("alpha")
    metrics = [c for c in table.columns if "@" in c]
    text, vector = (table[table["mode"] == m].iloc[0] for m in ("text", "vector"))
    assert list(hybrid.loc[0.0, metrics]) == pytest.approx(list(text[metrics]))
    assert list(hybrid.loc[1.0, metrics]) == pytest.approx(list(vector[metrics]))
    assert len(hybrid) == 11
    for metric, alpha in best_alpha(table, method).items():
        assert hybrid.loc[alpha, metric] == hybrid[metric].max()
        assert result.by_method[method][metric] == alpha
    for metric, alpha in result.best.items():  # the overall best is no worse than this method's best
        chosen = table[(table["method"] == result.best_method[metric]) & (table["alpha"] == alpha)]
        assert chosen[metric].iloc[0] >= hybrid[metric].max()
    assert result.image_to_image is not None and 0 <= result.image_to_image["mmp@5"] <= 1  # from the group column
    # BM25 over held-out paraphrases: "boats and gulls" is in no indexed caption, so keyword search scores nothing
    assert text["recall@10"] == 0.0


def test_relevance_file_maps_file_names_and_reports_unknown_ones(photos):
    items = photos.collection.all_items()
    name = items[3].metadata["file_name"]
    data = f"query,relevant\nharbour boats,{name}|ghost.png\nnothing here,ghost2.png\n".encode()
    query_set = queries_from_relevance_file(data, items)
    assert [(q.text, set(q.relevant)) for q in query_set.queries] == [("harbour boats", {items[3].id})]
    assert "2 relevant names match no item" in query_set.notes[0]
    with pytest.raises(EvaluationError, match="query column"):
        queries_from_relevance_file(b"a,b\n1,2\n", items)


def test_a_collection_without_queries_is_a_clear_error(store, tiny_embedder, tmp_path):
    write_images(tmp_path / "q", 4)
    items, _ = collect(tmp_path / "q")
    ingest(store, "plain", tiny_embedder, items)
    with pytest.raises(EvaluationError, match="relevance file"):
        choose_query_set(store.open("plain"))


def test_cli_evaluate_json_and_saved_alpha(photos, settings, tiny_model_dir):
    command = [sys.executable, "-m", "imgsearch_core", "evaluate", "--store", str(settings.store_dir),
               "--collection", "photos", "--json", "--save-alpha", "mrr@5"]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)  # 8 queries: too few to save
    assert refused.returncode == 2 and "only 8 queries (fewer than 20)" in refused.stderr, refused.stderr
    assert "setting_default_alpha" not in photos.collection.settings()
    command.append("--accept-few-queries")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["query_source"] == "held-out captions" and len(report["rows"]) == 2 + 11 * len(METHODS)
    saved = photos.collection.settings()
    assert saved["setting_default_alpha"] == report["best_alpha"]["mrr@5"]
    assert saved["setting_default_fusion"] == report["best_method"]["mrr@5"]
    assert set(report["best_alpha_by_method"]) == set(METHODS)
    assert report["few_queries"] is True
    bad = subprocess.run(command[:-2] + ["mrr@99"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--save-alpha" in bad.stderr


def judge(photos, count: int) -> None:
    """`count` judged queries (each marks one stored item right), written through the judgement store."""
    from imgsearch_core.evaluation.judgements import JudgementStore

    items = photos.collection.all_items()
    JudgementStore.of(photos.collection).mark_many(
        "photos", [(f"judged view {i}", items[i % len(items)].id, "right") for i in range(count)])


def test_a_few_judgements_do_not_replace_the_larger_source_and_are_named(photos):
    judge(photos, 2)
    query_set = choose_query_set(photos.collection)
    assert query_set.source == "held-out captions" and len(query_set.queries) == 8
    assert any(n.startswith("2 queries from judgements exist, fewer than 20: automatic uses the 8 queries from "
                            "held-out captions") for n in query_set.notes), query_set.notes
    assert len(choose_query_set(photos.collection, source="judgements").queries) == 2  # still usable by name


def test_twenty_judged_queries_are_used_automatically(photos):
    judge(photos, 20)
    query_set = choose_query_set(photos.collection)
    assert query_set.source == "judgements" and len(query_set.queries) == 20 and query_set.notes == []


def test_cli_text_states_the_source_warns_and_names_passed_over_judgements(photos, settings, tiny_model_dir):
    judge(photos, 3)
    done = subprocess.run([sys.executable, "-m", "imgsearch_core", "evaluate", "--store", str(settings.store_dir),
                           "--collection", "photos"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("photos (") and "8 queries from held-out captions" in lines[0]
    assert lines[1].startswith("warning: Only 8 queries from held-out captions")
    assert lines[2].startswith("note: 3 queries from judgements exist")
