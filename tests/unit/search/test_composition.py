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
    ("0:red", "Every term has weight 0"),
    ("0:circle - 0.0:red", "Every term has weight 0"),
    ("0:circle - red", "needs a positive term"),
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
    ("circle + item:xyz", "The item term 'item:xyz' needs a stored id"),
    ("circle + item:", "The item term 'item:' needs a stored id"),
    ("circle + 2:item:1234", "The item term 'item:1234' needs a stored id"),
    ('circle + "./pool.jpg', 'The picture term "./pool.jpg is not one path'),
    ('circle + "./a"b.png"', 'The picture term "./a"b.png" is not one path'),
    ('circle + "pool.JPG', 'The picture term "pool.JPG is not one path'),
    ("item:3fa2c9e1 - item:3FA2C9E1", "The terms cancel out"),
    ("0:item:zz + red", "The item term 'item:zz' needs a stored id"),  # a term weighted 0 is still checked for form
])
def test_each_malformed_query_has_one_clear_message(query, message):
    with pytest.raises(SearchError) as raised:
        parse(query)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)  # one line for the CLI's stderr and the page's error box


def test_weight_zero_drops_the_term_after_checking_it():
    assert parse("circle + 0:red") == parse("circle") == parse("0:blue + circle - 0.0:green")
    assert not parse("circle + 0:red").composed
    assert terms("red - 0:red + 2:blue") == [("red", 1.0), ("blue", 2.0)]  # no cancelling with a dropped term


def test_image_terms_are_items_or_quoted_paths_with_weights_and_signs():
    composition = parse('2:red circle + item:3FA2C9E1 - 0.5:"./my pool.jpg"')
    assert [(t.text, t.weight, t.kind) for t in composition.terms] == [
        ("red circle", 2.0, "text"), ("3fa2c9e1", 1.0, "item"), ("./my pool.jpg", -0.5, "picture")]
    assert parse("item:3fa2c9e1").composed  # one image term is not a plain text query
    assert [t.label for t in composition.terms] == ["red circle", "item:3fa2c9e1", '"./my pool.jpg"']


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


def test_the_fields_compose_a_query_the_grammar_reads_back():
    from imgsearch_core.search.composition import with_fields

    assert with_fields("circle", "sky, sea", 2, "red") == "circle + 2:sky + 2:sea - red"
    assert with_fields("", "sky", 1, "red, item:3fa2c9e1", 0.5) == "sky - 0.5:red - 0.5:item:3fa2c9e1"
    assert with_fields("circle", " , ", 3, "") == "circle"
    assert terms(with_fields("a - b", "c, e-mail", 0, "12:30")) == [("a", 1.0), ("b", -1.0), ("12:30", -1.0)]
    for field in ("a + b", "2:a", "0:a", "- a"):
        with pytest.raises(SearchError, match="The More of field takes words or item:<id>"):
            with_fields("x", field)
    with pytest.raises(SearchError, match="The item term 'item:zz' needs a stored id"):
        with_fields("x", "", 1, "item:zz")


@pytest.mark.parametrize("query", ['"red circle"', 'circle + "blue square"', '"the big" dog', 'a "quoted" word'])
def test_quoted_words_are_words_not_picture_paths(query):
    assert all(term.kind == "text" for term in parse(query).terms)

