"""The rank on a result card says in its tooltip what it is: the picture's place in this search's ranking,
ordered by the mode's score, kept when the cards are sorted by date."""
from __future__ import annotations

import pytest

from tests.app.conftest import run, start, submit_query


def rank_tooltips(at) -> list[str]:
    return [m.proto.help for m in at.markdown if str(m.value).startswith("**#")]


@pytest.mark.parametrize(("mode", "order"), [("text", "keyword score of its caption (BM25)"),
                                             ("vector", "meaning is to the query (CLIP cosine)"),
                                             ("hybrid", "fused score of meaning and keywords at alpha 0.50")])
def test_each_card_rank_explains_its_list_and_order(filled_store, mode, order):
    at = start()
    at.segmented_control(key="ts_mode").set_value(mode)
    submit_query(at, "red circle")
    tooltips = rank_tooltips(at)
    assert len(tooltips) == 12
    for rank, tooltip in enumerate(tooltips, start=1):
        assert tooltip.startswith(f"#{rank}: its place in this search's ranking, by ") and order in tooltip, tooltip
        assert "sorted by date" not in tooltip

