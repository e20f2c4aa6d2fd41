"""The words of a card's rank tooltip (imgsearch_core.display.ranks)."""
from __future__ import annotations

from imgsearch_core.display.ranks import rank_help


def test_the_wording_for_an_image_query_a_date_sort_and_folded_copies():
    text = rank_help(3, "vector", 1.0, image_query=True, sorted_by_date=True, copies=2)
    assert text.startswith("#3: its place in this search's ranking, by how close its meaning is to the query picture")
    assert "sorted by date taken; each keeps its place" in text and "folded into this card" in text
    assert "folded" not in rank_help(1, "text", 0.0)
