"""Which query source "automatic" evaluates with, and when a query set is too small to trust.

The rule: the first source, in order of preference (judgements, held-out captions, registered sources
such as the demo scenes), with at least MIN_QUERIES queries; when none has that many, the source with
the most queries (the preferred one among ties). So a handful of editors' marks never silently replaces
600 demo queries, while 20 or more judged queries (real editors' intent) win over generated ones.
Why 20: with fewer, one query moves a mean like MRR@5 by 0.05 or more, more than the gaps between the
configurations being compared, so the "best" alpha is a coin toss. A source that was passed over is
named in the query set's notes, with how to evaluate with it alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from imgsearch_core.evaluation.query_sources import EvaluationError, QuerySet

MIN_QUERIES = 20


def is_small(query_set: QuerySet) -> bool:
    """Fewer queries than a figure can rest on (MIN_QUERIES)."""
    return len(query_set.queries) < MIN_QUERIES


def pick_automatic(found: Sequence[QuerySet]) -> QuerySet:
    """The query set "automatic" uses among `found` (non-empty query sets, in order of preference), with a
    note for each preferred source it passed over."""
    if not found:
        raise ValueError("pick_automatic needs at least one query set")
    chosen = next((q for q in found if not is_small(q)), None) or max(found, key=lambda q: len(q.queries))
    passed = found[: found.index(chosen)]
    notes = [f"{len(q.queries):,} queries from {q.source} exist, fewer than {MIN_QUERIES}: automatic uses the "
             f"{len(chosen.queries):,} queries from {chosen.source} instead. Choose {q.source!r} as the source of "
             f"the queries to evaluate with them alone." for q in passed]
    return replace(chosen, notes=[*chosen.notes, *notes]) if notes else chosen


def few_queries_warning(query_set: QuerySet) -> str | None:
    """What to say before the figures of a small query set; None when it is large enough."""
    if not is_small(query_set):
        return None
    n = len(query_set.queries)
    return (f"Only {n:,} {'query' if n == 1 else 'queries'} from {query_set.source}: with fewer than {MIN_QUERIES} "
            "queries one query moves a mean such as MRR@5 by 0.05 or more, so these figures and the best alpha are "
            "not a reliable measurement. Add more queries (mark more search results, or give a relevance file).")


def check_saveable(query_set: QuerySet, confirmed: bool) -> None:
    """Refuse to keep a small query set's best configuration as the collection's default unless the user
    confirmed it explicitly: a default chosen from a few queries changes every later search."""
    if is_small(query_set) and not confirmed:
        raise EvaluationError(f"Not saved: the evaluation used only {len(query_set.queries):,} queries (fewer than "
                              f"{MIN_QUERIES}); confirm explicitly to save it as the default anyway.")
