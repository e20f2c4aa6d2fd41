"""A text search link's composed query: the More of / Less of fields and their weights round-trip, defaults stay
out, a bad weight is one error and falls back, and the page searches the query the fields compose."""
from __future__ import annotations

import pytest

from imgsearch_core.display.url_state import TextSearchParams, normalized
from imgsearch_core.search.fusion import SearchError


def test_the_fields_and_their_weights_round_trip():
    view = TextSearchParams(q="circle - red", more="sky, item:3fa2c9e1", more_weight=2.5, less="crowd",
                            less_weight=0.0, fusion="rrf")
    link = view.to_query()
    assert link["more"] == "sky, item:3fa2c9e1" and link["mw"] == "2.5" and link["lw"] == "0"
    parsed, errors = TextSearchParams.from_query(normalized(link))
    assert not errors and parsed == view
    assert parsed.query == "circle - red + 2.5:sky + 2.5:item:3fa2c9e1 - 0:crowd"


def test_a_weight_without_its_terms_or_at_1_is_left_out_and_fields_alone_keep_the_ranking_options():
    assert "mw" not in TextSearchParams(q="x", more_weight=3).to_query()
    assert "lw" not in TextSearchParams(q="x", less="y").to_query()
    link = TextSearchParams(more="sky", fusion="rrf", cutoff=True).to_query()
    assert link == {"more": "sky", "fusion": "rrf", "cut": "1"}


@pytest.mark.parametrize("key, raw", [("mw", "abc"), ("mw", "11"), ("lw", "-1"), ("lw", "nan")])
def test_a_bad_weight_is_one_error_and_falls_back_to_1(key, raw):
    parsed, errors = TextSearchParams.from_query({"q": ["circle"], "more": ["sky"], "less": ["red"], key: [raw]})
    assert len(errors) == 1 and "is not a number from 0 to 10; using 1." in errors[0]
    assert (parsed.q, parsed.more, parsed.less, parsed.more_weight, parsed.less_weight) == ("circle", "sky", "red", 1, 1)


def test_a_malformed_field_term_is_a_search_error_when_searched_not_when_the_link_opens():
    parsed, errors = TextSearchParams.from_query({"q": ["circle"], "more": ["sky + 2:sea"]})
    assert not errors and parsed.more == "sky + 2:sea"
    with pytest.raises(SearchError, match="The More of field takes words or item:<id>"):
        parsed.query
