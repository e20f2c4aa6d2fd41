"""The demo collection with the committed imgsearch-mini model: idempotent build and real semantics.

Relevance is judged from the scene descriptions stored in metadata, never from caption words, so
these assertions check that search *means* what it says: "a red circle on the left" must find red
circles on the left, in every mode that uses the model.
"""
import json
import subprocess
import sys

import pytest

from imgsearch_core.config import DEMO_MODEL, Settings
from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
from imgsearch_core.scenes.captions import Constraint, TextSpec, satisfies
from imgsearch_core.scenes.scenes import Scene
from imgsearch_core.models.embed import Embedder
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store

N_SCENES = 600


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = Store(Settings.from_env(store_dir=tmp_path_factory.mktemp("demo") / "store"))
    embedder = Embedder(DEMO_MODEL)
    first = build_demo_collection(store, count=N_SCENES, embedder=embedder)
    return store, embedder, first


@pytest.fixture(scope="module")
def searcher(demo):
    store, embedder, _ = demo
    return Searcher(store.open(DEMO_COLLECTION), embedder)


def scene_of(hit) -> Scene:
    return Scene.from_metadata(hit.metadata)


def precision(hits, spec: TextSpec) -> float:
    return sum(satisfies(scene_of(h), spec) for h in hits) / len(hits)


def test_build_stores_every_scene_with_its_description_and_is_idempotent(demo):
    store, embedder, first = demo
    assert (first.added, first.problems) == (N_SCENES, [])
    collection = store.open(DEMO_COLLECTION)
    assert collection.model.name == DEMO_MODEL
    revision = collection.revision
    again = build_demo_collection(store, count=N_SCENES, embedder=embedder)
    assert (again.added, again.already_stored) == (0, N_SCENES)
    assert collection.count() == N_SCENES and collection.revision == revision  # nothing was written
    item = collection.page(limit=1)[0]
    assert scene_of(item).objects and item.metadata["split"] == "test" and item.media_path.is_file()


@pytest.mark.parametrize("mode, alpha", [("vector", 1.0), ("hybrid", 0.5)])
def test_colour_and_shape_queries_find_those_objects(searcher, mode, alpha):
    cases = [("crimson disc", Constraint("red", "circle")), ("a cobalt box", Constraint("blue", "square")),
             ("yellow star", Constraint("yellow", "star")), ("green triangle", Constraint("green", "triangle")),
             ("purple diamond", Constraint("purple", "diamond")), ("orange cross", Constraint("orange", "cross"))]
    found = {query: precision(searcher.search(query, mode, alpha=alpha, k=5).hits, TextSpec((constraint,)))
             for query, constraint in cases}
    assert sum(found.values()) / len(found) >= 0.8, found
    assert min(found.values()) > 0, found


def test_a_red_circle_on_the_left(searcher):
    """The top hits are the collection's red circles on the left (a few among 600 scenes), not any red circle."""
    wanted = TextSpec((Constraint("red", "circle", position="left"),))
    relevant = {item.id for item in searcher.collection.all_items() if satisfies(scene_of(item), wanted)}
    assert 1 <= len(relevant) <= 5
    hits = searcher.search("a red circle on the left", "vector", k=5).hits
    assert hits[0].id in relevant
    assert len({h.id for h in hits} & relevant) >= len(relevant) - 1


def test_text_mode_matches_caption_words_and_synonyms_are_the_models_job(searcher):
    """BM25 finds the literal word; the model also finds the synonym the caption did not use."""
    literal = searcher.search("scarlet", "text", k=10).hits
    assert literal and all("scarlet" in h.caption.lower() for h in literal)
    semantic = searcher.search("scarlet", "vector", k=10).hits
    assert precision(semantic, TextSpec((Constraint(colour="red"),))) >= 0.8
    assert any("scarlet" not in h.caption.lower() for h in semantic)


def test_more_like_this_shows_the_same_objects(searcher):
    items = searcher.collection.page(limit=60)
    shared = 0
    for item in items:
        top = searcher.similar(item_id=item.id, k=1).hits[0]
        assert top.id != item.id
        shared += bool({o.key() for o in scene_of(item).objects} & {o.key() for o in scene_of(top).objects})
    assert shared / len(items) >= 0.5  # the model weighs layout as well as objects (model card: run 5)


def test_demo_command_is_idempotent(tmp_path):
    command = [sys.executable, "-m", "imgsearch_core", "demo", "--store", str(tmp_path / "store"), "--count", "40", "--json"]
    runs = [subprocess.run(command, capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    first, second = (json.loads(r.stdout) for r in runs)
    assert (first["added"], second["added"], second["already_stored"]) == (40, 0, 40)
    assert Store(Settings.from_env(store_dir=tmp_path / "store")).open(DEMO_COLLECTION).count() == 40
