"""A composed query's per-term breakdown: each side's shares in the modes that ran, picture and negative terms
said in words, the user's term text escaped in the markdown table, nothing for a plain query."""
from __future__ import annotations

from types import SimpleNamespace

from imgsearch_core.display.scores import score_markdown, term_rows
from imgsearch_core.search.composition import TermPart

PARTS = (TermPart("circle", 1.0, 1.25, 0.2), TermPart("item:3fa2c9e1", 2.0, None, 0.3, "item"),
         TermPart("red | *x*", -1.0, None, -0.1))


def hit(terms=PARTS) -> SimpleNamespace:
    return SimpleNamespace(bm25=1.25, bm25_norm=0.5, cosine=0.4, cosine_norm=0.4, score=0.45, method="linear-minmax",
                           terms=terms)


def test_each_term_has_its_shares_in_the_modes_that_ran():
    assert term_rows(hit(), "hybrid") == [
        {"term": "circle", "weight": "+1", "bm25": "1.2500", "cosine": "+0.2000"},
        {"term": "item:3fa2c9e1", "weight": "+2", "bm25": "— (picture: no keywords)", "cosine": "+0.3000"},
        {"term": "red | *x*", "weight": "-1", "bm25": "— (excludes)", "cosine": "-0.1000"}]
    assert {row["bm25"] for row in term_rows(hit(), "vector")} == {""}
    assert {row["cosine"] for row in term_rows(hit(), "text")} == {""}


def test_the_table_escapes_the_terms_and_a_plain_query_has_none():
    text = score_markdown(hit(), "vector", 1.0)
    assert "| red \\| \\*x\\* | -1 | -0.1000 |" in text and "BM25 share" not in text
    assert "Per term" not in score_markdown(hit(()), "hybrid", 0.5)
