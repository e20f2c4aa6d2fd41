"""The method sweep on the demo collection (bundled imgsearch-mini, generated scenes with exact relevance):
every fusion method's ends are the pure sides, and every method's best alpha beats both pure sides."""
import pytest

from imgsearch_core.demo.eval_source import DemoScenes
from imgsearch_core.evaluation.evaluate import best_by_method, choose_query_set, sweep
from imgsearch_core.search.fusion import METHODS
from imgsearch_core.search.engine import Searcher

@pytest.fixture(scope="module")
def demo_sweep(demo_600):
    collection, embedder = demo_600
    query_set = choose_query_set(collection, sources=[DemoScenes(n_one=150, n_two=150)])
    return sweep(Searcher(collection, embedder), query_set), query_set


def test_the_demo_scenes_are_a_registered_query_source(demo_sweep):
    _, query_set = demo_sweep
    assert query_set.source == "demo scenes" and len(query_set.queries) >= 250


@pytest.mark.parametrize("method", METHODS)
def test_each_methods_sweep_ends_at_the_pure_sides_and_its_best_beats_both(demo_sweep, method):
    table, _ = demo_sweep
    rows = table[(table["mode"] == "hybrid") & (table["method"] == method)].set_index("alpha")
    text, vector = (table[table["mode"] == m].iloc[0] for m in ("text", "vector"))
    for metric in ("mrr@5", "recall@5"):
        assert rows.loc[0.0, metric] == pytest.approx(text[metric])
        assert rows.loc[1.0, metric] == pytest.approx(vector[metric])
    best = best_by_method(table)[method]["mrr@5"]
    assert 0.0 < best < 1.0  # a mix, not one side
    assert rows.loc[best, "mrr@5"] > max(text["mrr@5"], vector["mrr@5"])
    assert rows.loc[0.5, "mrr@5"] > text["mrr@5"] + 0.05  # meaning helps keywords on paraphrased queries
