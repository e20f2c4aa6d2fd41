"""Result cards lead with a relevance band (a word in a coloured badge) and the raw cosine / BM25, not the fused
score; the band is the core's verdict, and the collection's calibration is measured once, not on every rerun."""
from __future__ import annotations

import pytest

from tests.app.conftest import hit_ids, run, start, submit_query, texts

QUERY = "red circle"
BAND_WORDS = ("strong match", "weak match", "no match")


def popover_labels(at) -> list[str]:
    return [p.proto.popover.label for p in at.get("popover")]


def badges(at) -> list[str]:
    return [m for m in texts(at.markdown) if "-badge[" in m and any(w + "]" in m for w in BAND_WORDS)
            and "\n" not in m]


def core_verdicts(store, mode: str):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.search.relevance import UNCALIBRATED, calibrate, hit_verdict

    collection = store.open("photos")
    embedder = Embedder(collection.model.name)
    searcher = Searcher(collection, embedder)
    result = searcher.search(QUERY, mode, 0.5, 12)
    calibration = UNCALIBRATED if mode == "text" else calibrate(collection, embedder)
    return result.hits, [hit_verdict(calibration, h, query="text", mode=mode, query_tokens=result.query_tokens,
                                     index=collection.bm25()) for h in result.hits]


@pytest.mark.parametrize("mode", ["vector", "hybrid", "text"])
def test_each_card_shows_its_band_and_raw_evidence_not_the_fused_score(filled_store, mode):
    at = start()
    at.segmented_control(key="ts_mode").set_value(mode)
    submit_query(at, QUERY)
    hits, verdicts = core_verdicts(filled_store, mode)
    assert hit_ids(at) == [h.id for h in hits]
    labels = popover_labels(at)
    assert len(labels) == len(hits) == 12
    assert not any(label.startswith("score") for label in labels)  # the fused score is no headline
    for label, hit in zip(labels, hits):
        cosine = mode != "text" and hit.cosine is not None
        bm25 = mode != "vector" and hit.bm25 is not None
        assert ("cos " in label) == cosine and ("BM25 " in label) == bm25
        assert not cosine or f"cos {hit.cosine:.3f}" in label
        assert not bm25 or f"BM25 {hit.bm25:.2f}" in label
    shown = badges(at)
    assert len(shown) == 12
    for badge, v in zip(shown, verdicts):
        assert f"{v.label}]" in badge and f":{v.colour}-badge[" in badge
    explained = [m for m in texts(at.markdown) if "Bands are measured per collection and model" in m]
    assert len(explained) == 12 and verdicts[0].evidence in explained[0]
    assert len([m for m in texts(at.markdown) if m.startswith("| | raw | normalised")]) == 12  # still there


def test_the_calibration_is_measured_once_per_collection_revision(filled_store, embed_calls):
    at = start()
    at.segmented_control(key="ts_mode").set_value("vector")
    submit_query(at, QUERY)
    first = embed_calls["embed_texts"]
    assert first == 2  # the query, and the sampled captions of the calibration
    submit_query(at, "blue square")
    run(at)
    assert embed_calls["embed_texts"] == first + 1  # only the new query
    assert len(badges(at)) == 12


def test_the_detail_dialog_heads_with_the_band_and_the_cosine(filled_store):
    at = start()
    at.segmented_control(key="ts_mode").set_value("vector")
    submit_query(at, QUERY)
    hits, verdicts = core_verdicts(filled_store, "vector")
    next(b for b in at.button if b.key == f"ts_detail_{hits[0].id}").click()
    run(at)
    header = next(m for m in texts(at.markdown) if m.startswith("**#1** · "))
    assert f"{verdicts[0].label}]" in header and f"cosine {hits[0].cosine:.3f}" in header
    assert header.endswith(f":gray[rank score {hits[0].score:.4f}]")
