"""The automatic source rule: a few judged queries never replace many built-in ones; 20 or more do; a
small set warns and is not saved as a default without an explicit confirm."""
import pytest

from imgsearch_core.evaluation.query_sources import EvalQuery, EvaluationError, QuerySet
from imgsearch_core.evaluation.source_rule import (
    MIN_QUERIES,
    check_saveable,
    few_queries_warning,
    is_small,
    pick_automatic,
)


def query_set(source: str, n: int) -> QuerySet:
    return QuerySet(source, [EvalQuery(f"{source} query {i}", frozenset({f"id{i}"})) for i in range(n)])


def test_two_judged_queries_never_replace_600_demo_queries_and_say_how_to_use_them():
    chosen = pick_automatic([query_set("judgements", 2), query_set("demo scenes", 600)])
    assert chosen.source == "demo scenes" and len(chosen.queries) == 600
    [note] = chosen.notes
    assert note.startswith("2 queries from judgements exist, fewer than 20: automatic uses the 600 queries from demo")
    assert "Choose 'judgements'" in note


@pytest.mark.parametrize("n", [MIN_QUERIES, 45])
def test_enough_judged_queries_win_over_generated_ones(n):
    chosen = pick_automatic([query_set("judgements", n), query_set("held-out captions", 300),
                             query_set("demo scenes", 600)])
    assert chosen.source == "judgements" and len(chosen.queries) == n and chosen.notes == []


def test_when_every_source_is_small_the_largest_is_used_and_the_preferred_among_ties():
    chosen = pick_automatic([query_set("judgements", 3), query_set("held-out captions", 8), query_set("x", 8)])
    assert chosen.source == "held-out captions" and len(chosen.notes) == 1
    assert pick_automatic([query_set("judgements", 8), query_set("held-out captions", 8)]).source == "judgements"


def test_a_source_after_the_chosen_one_is_not_noted():
    chosen = pick_automatic([query_set("judgements", 30), query_set("held-out captions", 3)])
    assert chosen.notes == []


def test_small_sets_warn_and_need_a_confirm_to_be_saved():
    small, large = query_set("judgements", MIN_QUERIES - 1), query_set("judgements", MIN_QUERIES)
    assert is_small(small) and not is_small(large)
    assert few_queries_warning(large) is None
    assert few_queries_warning(small).startswith(f"Only {MIN_QUERIES - 1} queries from judgements: with fewer than 20")
    assert few_queries_warning(query_set("judgements", 1)).startswith("Only 1 query from")
    with pytest.raises(EvaluationError, match="only 19 queries"):
        check_saveable(small, confirmed=False)
    check_saveable(small, confirmed=True)
    check_saveable(large, confirmed=False)
