"""The composed-query grammar (imgsearch_core.search.composition): terms, weights, signs and every error."""
from __future__ import annotations

import pytest

from imgsearch_core.search.composition import MAX_TERMS, MAX_WEIGHT, Term, parse
from imgsearch_core.search.fusion import SearchError


def terms(query: str) -> list[tuple[str, float]]:
    return [(t.text, t.weight) for t in parse(query).terms]


def test_the_issue_example_has_a_weighted_a_plain_and_a_negative_term():
    assert terms("2:red circle + square - blue") == [("red circle", 2.0), ("square", 1.0), ("blue", -1.0)]
    assert parse("2:red circle + square - blue").composed


@pytest.mark.parametrize("query", ["red circle", "e-mail", "a red t-shirt", "circle -red", "+5 degrees", "2-3 dogs",
                                   "meeting at 12:30", "16:9 frame", "note: red"])
def test_a_query_without_spaced_operators_or_weight_is_one_plain_term(query):
    composition = parse(query)
    assert composition.terms == (Term(query.strip(), 1.0),) and not composition.composed


def test_a_single_weighted_term_is_not_composed_and_keeps_its_words():
    assert parse("2.5:red circle").terms == (Term("red circle", 2.5),) and not parse("2.5:red circle").composed
    assert terms(".5:red + 10:blue") == [("red", 0.5), ("blue", MAX_WEIGHT)]


def test_a_leading_sign_applies_to_the_first_term():
    assert terms("- blue + circle") == [("blue", -1.0), ("circle", 1.0)]
    assert terms("+ circle") == [("circle", 1.0)]
    assert terms("circle - 3:red - blue") == [("circle", 1.0), ("red", -3.0), ("blue", -1.0)]


def test_operators_need_whitespace_on_both_sides_but_any_whitespace_counts():
    assert terms("circle\t-\nred") == [("circle", 1.0), ("red", -1.0)]
    assert terms("t-shirt - e-mail") == [("t-shirt", 1.0), ("e-mail", -1.0)]
    assert terms("circle + red - red") == [("circle", 1.0), ("red", 1.0), ("red", -1.0)]  # circle is left: no cancel


@pytest.mark.parametrize("query, message", [
    ("circle -", "ends with the operator '-'"),
    ("circle +", "ends with the operator '+'"),
    ("-", "ends with the operator '-'"),
    ("circle + + red", "Two operators in a row ('+ +')"),
    ("circle + - red", "Two operators in a row ('+ -')"),
    ("0:red", "The weight 0 is out of range"),
    ("circle + 0.0:red", "The weight 0.0 is out of range"),
    ("10.01:red", "The weight 10.01 is out of range"),
    ("11:red + blue", "The weight 11 is out of range"),
    ("2x:red", "The weight '2x' is not a number"),
    ("1.2.3:red", "The weight '1.2.3' is not a number"),
    ("circle + -2:red", "The weight '-2' is not a number"),
    ("2:", "The weight '2:' has no words"),
    ("circle + 2: + red", "The weight '2:' has no words"),
    ("- red", "needs a positive term"),
    ("- red - 2:blue", "needs a positive term"),
    ("red circle - Red  Circle", "The terms cancel out"),
    ("2:red + blue - red - red - blue", "The terms cancel out"),
    (" + ".join(["a"] * (MAX_TERMS + 1)), f"at most {MAX_TERMS} terms"),
])
def test_each_malformed_query_has_one_clear_message(query, message):
    with pytest.raises(SearchError) as raised:
        parse(query)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)  # one line for the CLI's stderr and the page's error box


def test_the_term_limit_is_inclusive():
    assert len(parse(" + ".join(["a"] * MAX_TERMS)).terms) == MAX_TERMS


def test_the_keyword_top_widens_its_window_when_exclusions_eat_it_and_breaks_ties_by_id():
    import numpy as np

    from imgsearch_core.search.composition import _keyword_top

    ids = [f"d{i:03d}" for i in range(200)]
    total = np.linspace(10.0, 1.0, 200)
    total[150] = total[151] = 0.5  # the two weakest, tied; d199 scores nothing
    total[199] = 0.0
    keep = {"d151", "d150", "d007"}
    top = _keyword_top(ids, total, 2, None, lambda doc_id: doc_id not in keep)
    assert top == [("d007", total[7]), ("d150", 0.5)]
    assert _keyword_top(ids, total, 3, frozenset({"d151", "d150", "d199"}), lambda doc_id: False) == [
        ("d150", 0.5), ("d151", 0.5)]
