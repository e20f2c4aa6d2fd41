"""The caption-then-embed comparison on a real demo store: machine captions that describe their pictures make
the caption routes find them, shuffled ones do not, and the image route is the same either way."""
from __future__ import annotations

import json
import random

import pytest

from imgsearch_core.cli.main import main

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.demo.eval_source import queries_from_scenes
from imgsearch_core.evaluation.caption_routes import BM25_ROUTE, EMBED_ROUTE, IMAGE_ROUTE, compare_routes
from imgsearch_core.evaluation.query_sources import EvaluationError
from imgsearch_core.models.embed import Embedder
from imgsearch_core.store.store import Store

N_SCENES = 150


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    store = Store(Settings.from_env(store_dir=tmp_path_factory.mktemp("routes") / "store"))
    embedder = Embedder(DEMO_MODEL)
    build_demo_collection(store, count=N_SCENES, embedder=embedder)
    collection = store.open(DEMO_COLLECTION)
    items = collection.all_items()
    return collection, embedder, items, queries_from_scenes(items, n_one=60, n_two=60)


def write_machine_captions(collection, items, captions):
    collection.update_items([(item.id, item.caption, {"machine_caption": text}) for item, text in zip(items, captions)])


def by_route(table):
    return {row["route"]: row for row in table.to_dict("records")}


def test_describing_machine_captions_are_found_shuffled_ones_are_not(scenes):
    collection, embedder, items, queries = scenes
    with pytest.raises(EvaluationError, match="no machine captions"):
        compare_routes(collection, embedder, queries)

    write_machine_captions(collection, items, [item.caption for item in items])  # a captioner that is right
    right = by_route(compare_routes(collection, embedder, queries))
    shuffled_captions = [item.caption for item in items]
    random.Random(0).shuffle(shuffled_captions)
    write_machine_captions(collection, items, shuffled_captions)  # one that describes other pictures
    wrong = by_route(compare_routes(collection, embedder, queries))

    assert len(right) == 6 and {r["queries"] for r in right.values()} == {len(queries.queries)}
    assert right[IMAGE_ROUTE]["mrr@5"] == wrong[IMAGE_ROUTE]["mrr@5"]  # the stored vectors are untouched
    for route in (BM25_ROUTE, EMBED_ROUTE):
        assert right[route]["mrr@5"] > wrong[route]["mrr@5"] + 0.2, route
        assert 0.0 <= wrong[route]["recall@5"] <= right[route]["recall@5"] <= 1.0
    hybrids = [row for name, row in right.items() if name.startswith("hybrid")]
    assert len(hybrids) == 3 and all(0.0 <= row["alpha"] <= 1.0 for row in hybrids)
    best_single = max(right[r]["mrr@5"] for r in (BM25_ROUTE, EMBED_ROUTE, IMAGE_ROUTE))
    assert max(row["mrr@5"] for row in hybrids) >= best_single - 1e-9  # alpha 0 or 1 is one of its routes


def test_the_command_prints_the_routes_and_refuses_saving(scenes, capsys):
    collection, _, items, _ = scenes
    store_dir = str(collection._store.settings.store_dir)  # noqa: SLF001 - the fixture's store folder
    write_machine_captions(collection, items, [item.caption for item in items])
    assert main(["evaluate", "--caption-routes", "--source", "scenes", "--json", "--store", store_dir]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["items"] == N_SCENES and document["source"] == "demo scenes"
    routes = {row["route"]: row for row in document["routes"]}
    assert {BM25_ROUTE, EMBED_ROUTE, IMAGE_ROUTE} <= set(routes) and len(routes) == 6
    assert main(["evaluate", "--caption-routes", "--save-alpha", "mrr@5", "--store", store_dir]) == 2
    assert "saves nothing" in capsys.readouterr().err
