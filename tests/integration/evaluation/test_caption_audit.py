"""Caption audit on a small real collection: 160 generated scenes embedded with the bundled model, the captions
of 10 swapped among themselves. The swapped ones must rank on top, their scores be stored (vectors and captions
untouched) and be found by the filter language; uncaptioned items get no score and stale scores go."""
from __future__ import annotations

import numpy as np
import pytest

from imgsearch_core.evaluation.caption_audit import (SCORE_FIELD, AuditError, audit_collection, auroc,
                                                     score_collection, suspects)
from imgsearch_core.search.filters.parse import collection_fields, parse_filter

SCENES, SWAPPED = 160, 10


def swap_captions(collection, count: int, seed: int) -> set[str]:
    """Rotate the captions of `count` seeded items among themselves (no item keeps its own)."""
    items = collection.all_items()
    chosen = [items[i] for i in np.random.default_rng(seed).choice(len(items), count, replace=False)]
    rotated = [chosen[(n + 1) % count].caption for n in range(count)]
    collection.update_items([(item.id, caption, {"caption_from": "swapped"}) for item, caption in zip(chosen, rotated)])
    return {item.id for item in chosen}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """(collection, embedder, swapped ids, vectors before, captions before, report) after one audit."""
    from imgsearch_core.config import DEMO_MODEL, Settings
    from imgsearch_core.demo.collection import build_scene_collection
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.store.store import Store

    store = Store(Settings.from_env(store_dir=tmp_path_factory.mktemp("audit") / "store"))
    embedder = Embedder(DEMO_MODEL)
    build_scene_collection(store, "scenes", embedder, SCENES)
    collection = store.open("scenes")
    swapped = swap_captions(collection, SWAPPED, seed=7)
    ids = [i.id for i in collection.all_items()]
    vectors = collection.embeddings(ids)
    captions = {i.id: i.caption for i in collection.all_items()}
    report = audit_collection(collection, embedder, top=SWAPPED)
    return collection, embedder, swapped, vectors, captions, report


def test_swapped_captions_rank_on_top_and_auroc_is_high(audited):
    collection, _, swapped, _, _, report = audited
    assert report.scored == SCENES and report.uncaptioned == 0
    top = {s.id for s in suspects(collection, SWAPPED)}
    assert len(top & swapped) >= SWAPPED - 1  # measured: the top 10 are the 10 swapped
    stored = {i.id: i.metadata[SCORE_FIELD] for i in collection.all_items()}
    assert auroc(list(stored.values()), [i in swapped for i in stored]) >= 0.97  # measured 1.0
    assert 0.02 <= report.wrong_share <= 0.15  # 10 of 160 = 6 %; measured 3.8 % (swaps between alike scenes fit)


def test_the_audit_keeps_vectors_and_captions_and_a_rerun_rewrites_nothing_unchanged(audited):
    collection, embedder, _, vectors, captions, report = audited
    after = collection.embeddings(list(vectors))
    assert all(np.allclose(vectors[i], after[i], rtol=0, atol=1e-6) for i in vectors)  # Chroma's float32 round trip
    assert {i.id: i.caption for i in collection.all_items()} == captions
    revision = collection.revision
    again = audit_collection(collection, embedder, top=SWAPPED)
    assert collection.revision == revision and again.scored == SCENES  # same scores: no write
    assert [s.id for s in again.top] == [s.id for s in report.top]


def test_stored_scores_are_found_by_the_filter_language(audited):
    collection, _, swapped, _, _, _ = audited
    where = parse_filter("caption_suspicion > 0.5", collection_fields(collection))
    flagged = collection.ids_matching(where)
    assert len(flagged & swapped) >= SWAPPED - 1 and len(flagged & swapped) / len(flagged) >= 0.8  # measured 10 of 11
    assert collection.ids_matching(parse_filter("caption_suspicion <= 0.5", collection_fields(collection))) \
        == {i.id for i in collection.all_items()} - flagged
    stored = {i.id: i.metadata[SCORE_FIELD] for i in collection.all_items()}
    assert parse_filter("caption_suspicion > 0.9", collection_fields(collection)) == {SCORE_FIELD: {"$gt": 0.9}}
    for bound in (0.9, 0.6, 0.3):
        where = parse_filter(f"caption_suspicion > {bound}", collection_fields(collection))
        assert collection.ids_matching(where) == {i for i, score in stored.items() if score > bound}
    worst = collection.ids_matching(parse_filter("caption_audit_rank >= 0.94", collection_fields(collection)))
    assert len(worst) == 10 and len(worst & swapped) >= SWAPPED - 1  # rank 150 of 0..159 and above


def test_uncaptioned_items_get_no_score_and_stale_scores_go(audited):
    collection, embedder, swapped, _, _, _ = audited
    item = next(i for i in collection.all_items() if i.id not in swapped)
    edited = next(i for i in collection.all_items() if i.id in swapped)
    collection.update_items([(item.id, "", {"captioned": False})])
    report = audit_collection(collection, embedder, top=5)
    assert (report.scored, report.uncaptioned, report.cleared) == (SCENES - 1, 1, 1)
    assert SCORE_FIELD not in collection.get([item.id])[0].metadata
    collection.update_items([(edited.id, "a caption edited after the audit", {"caption_from": "edited"})])  # its score is no longer its own
    assert edited.id not in {s.id for s in suspects(collection, SCENES)}


def test_bad_requests_are_clear_errors(audited):
    collection, embedder, *_ = audited
    with pytest.raises(AuditError, match="Unknown audit statistic"):
        score_collection(collection, embedder, statistic="vibes")
    with pytest.raises(AuditError, match="at least 1"):
        suspects(collection, 0)
