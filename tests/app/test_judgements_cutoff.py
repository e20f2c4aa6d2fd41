"""Text search: marking hits right/wrong stores judgements; the fusion selector and the cutoff toggle."""
from __future__ import annotations

from tests.app.conftest import hit_ids, run, start, submit_query, texts

QUERY = "red circle"


def judgements(store):
    from imgsearch_core.evaluation.judgements import JudgementStore

    return JudgementStore(store.root).verdicts("photos", QUERY)


def test_marking_a_hit_right_or_wrong_stores_a_judgement(filled_store):
    at = start()
    submit_query(at, QUERY)
    first, second = hit_ids(at)[:2]
    at.button(key=f"ts_judge_card_right_{first}").click()
    run(at)
    at.button(key=f"ts_judge_card_wrong_{second}").click()
    run(at)
    assert judgements(filled_store) == {first: "right", second: "wrong"}
    assert at.button(key=f"ts_judge_card_right_{first}").proto.type == "primary"  # the mark is shown
    at.button(key=f"ts_judge_card_the_one_{second}").click()
    run(at)
    assert judgements(filled_store) == {first: "right", second: "the_one"}
    at.button(key=f"ts_judge_card_the_one_{second}").click()  # clicking the current mark clears it
    run(at)
    assert judgements(filled_store) == {first: "right"}


def test_fusion_selector_reranks_and_goes_into_the_link(filled_store):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.engine import Searcher

    at = start()
    submit_query(at, QUERY)
    at.selectbox(key="ts_fusion").set_value("rrf")
    run(at)
    collection = filled_store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    expected = [h.id for h in searcher.rank(searcher.text_candidates(QUERY), "hybrid", 0.5, 24, "rrf").hits]
    assert hit_ids(at) == expected[:12] and at.query_params["fusion"] == "rrf"
    breakdown = next(m for m in texts(at.markdown) if m.startswith("| | raw | rank part"))
    assert "1/(60+" in breakdown
    linked = start(query={"q": QUERY, "fusion": "linear-relative"})
    assert linked.selectbox(key="ts_fusion").value == "linear-relative"


def test_the_cutoff_toggle_shows_the_cut_and_show_all(filled_store):
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.search.fusion import autocut
    from imgsearch_core.search.engine import Searcher

    collection = filled_store.open("photos")
    searcher = Searcher(collection, Embedder(collection.model.name))
    result = searcher.rank(searcher.text_candidates(QUERY), "text", 0.0, 24, cutoff=True)
    clear = autocut([h.score for h in result.hits])
    assert result.clear == clear and 0 < clear < len(result.hits)  # this query's BM25 scores have a gap
    at = start()
    at.segmented_control(key="ts_mode").set_value("text")
    at.toggle(key="ts_cutoff").set_value(True)
    submit_query(at, QUERY)
    assert any(f"Showing **{clear}** clearly relevant of {len(result.hits)}" in m for m in texts(at.markdown))
    assert hit_ids(at) == [h.id for h in result.hits[:min(clear, 12)]] and at.query_params["cut"] == "1"
    at.button(key="ts_cut_show_all").click()
    run(at)
    assert hit_ids(at) == [h.id for h in result.hits[:12]]
    assert any(f"Showing all {len(result.hits)}" in c for c in texts(at.caption))
