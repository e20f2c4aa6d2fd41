"""The issue's case on a real demo collection: four marks on two queries do not turn the automatic
evaluation into "2 queries from judgements"; the demo scenes stay the source and the judgements are named."""
import pytest

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.evaluation.evaluate import choose_query_set
from imgsearch_core.evaluation.judgements import JudgementStore
from imgsearch_core.evaluation.source_rule import MIN_QUERIES
from imgsearch_core.models.embed import Embedder
from imgsearch_core.store.store import Store

N_SCENES = 80


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = Store(Settings.from_env(store_dir=tmp_path_factory.mktemp("demo") / "store"))
    build_demo_collection(store, count=N_SCENES, embedder=Embedder(DEMO_MODEL))
    return store.open(DEMO_COLLECTION)


def test_four_thumbs_on_two_queries_keep_the_demo_scenes(demo):
    before = choose_query_set(demo)
    assert before.source == "demo scenes" and len(before.queries) >= MIN_QUERIES
    items = demo.all_items()
    JudgementStore.of(demo).mark_many(DEMO_COLLECTION, [
        ("a tiny red boat", items[0].id, "right"), ("a tiny red boat", items[1].id, "wrong"),
        ("something green", items[2].id, "right"), ("something green", items[3].id, "the_one")])
    after = choose_query_set(demo)
    assert after.source == "demo scenes" and len(after.queries) == len(before.queries)
    assert after.notes[-1].startswith(f"2 queries from judgements exist, fewer than 20: automatic uses the "
                                      f"{len(before.queries):,} queries from demo scenes instead")
    assert len(choose_query_set(demo, source="judgements").queries) == 2
