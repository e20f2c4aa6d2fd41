"""Composed-query properties on the real demo store (600 scenes, read-only), drawn by hypothesis: a negative term
never raises a hit holding it; weight 0 ranks exactly as leaving the term out; image terms (item:<id>, a picture
file) rank as the image search of the same picture."""
from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from imgsearch_core.cli.main import main
from imgsearch_core.media.images import decode_query
from imgsearch_core.search.engine import SearchError, Searcher
from imgsearch_core.text.analysis import analyze_one

WORDS = ["red circle", "circle", "square", "blue", "a green triangle", "yellow", "small red square", "triangle"]
MODES = ["hybrid", "text", "vector"]
RUNS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def searcher(demo_600) -> Searcher:
    collection, embedder = demo_600
    return Searcher(collection, embedder)


def holds(searcher: Searcher, caption: str, words: str) -> bool:
    language = searcher.collection.bm25().language
    return set(analyze_one(words, language)) <= set(analyze_one(caption, language))


def ranked(searcher: Searcher, query: str, mode: str) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 12)) for h in searcher.search(query, mode, 0.5, 30).hits]


positive_terms = st.lists(st.tuples(st.just("+"), st.sampled_from(WORDS), st.sampled_from([1, 0.5, 2, 3])),
                          min_size=1, max_size=3, unique_by=lambda t: t[1])


def written(terms: list[tuple[str, str, float]]) -> str:
    """(sign, words, weight) terms in the grammar."""
    out = []
    for i, (sign, words, weight) in enumerate(terms):
        term = words if weight == 1 else f"{weight:g}:{words}"
        out.append(f"{sign} {term}" if i or sign == "-" else term)
    return " ".join(out)


@RUNS
@given(positive=positive_terms, negative=st.sampled_from(WORDS), weight=st.sampled_from([1, 0.5, 4]),
       mode=st.sampled_from(MODES))
def test_a_negative_term_never_raises_a_hit_holding_it(searcher, positive, negative, weight, mode):
    """A hit of P that holds N ranks no better in P - N (it is left out), and no hit of P - N holds N."""
    if any(words == negative for _, words, _ in positive):
        return  # "red - red" cancels (an error the grammar tests cover)
    plain = searcher.search(written(positive), mode, 0.5, 30).hits
    composed = {h.id: h for h in searcher.search(written([*positive, ("-", negative, weight)]), mode, 0.5, 30).hits}
    assert not [h.id for h in composed.values() if holds(searcher, h.caption, negative)]
    for hit in plain:
        if holds(searcher, hit.caption, negative):
            assert hit.id not in composed


@RUNS
@given(positive=positive_terms, extra=st.sampled_from(WORDS), sign=st.sampled_from(["+", "-"]),
       at=st.integers(0, 3), mode=st.sampled_from(MODES))
def test_weight_zero_ranks_exactly_as_leaving_the_term_out(searcher, positive, extra, sign, at, mode):
    with_zero = written([*positive[:at], (sign, extra, 0), *positive[at:]])
    assert "0:" in with_zero and ranked(searcher, with_zero, mode) == ranked(searcher, written(positive), mode)


def test_an_item_term_alone_ranks_as_more_like_this_and_leaves_the_item_out(searcher):
    item = searcher.collection.all_items()[3].id
    composed = searcher.search(f"item:{item}", "vector", k=20).hits
    similar = searcher.similar(item_id=item, k=20).hits
    assert [h.id for h in composed] == [h.id for h in similar] and item not in {h.id for h in composed}
    assert [h.cosine for h in composed] == pytest.approx([h.cosine for h in similar], abs=1e-5)
    assert all(len(h.terms) == 1 and h.terms[0].kind == "item" and h.terms[0].bm25 is None for h in composed)


def test_an_image_term_has_no_keyword_part_and_its_cosine_share_adds_up(searcher):
    item = searcher.collection.all_items()[5].id
    hits = searcher.search(f"circle + 2:item:{item} - red", "hybrid", 0.5, 20).hits
    assert hits and item not in {h.id for h in hits}
    for hit in hits:
        text, picture, negative = hit.terms
        assert (picture.term, picture.weight, picture.kind, picture.bm25) == (f"item:{item}", 2.0, "item", None)
        assert negative.bm25 is None and text.bm25 is not None
        assert hit.cosine is None or hit.cosine == pytest.approx(sum(p.cosine for p in hit.terms), abs=1e-4)
        assert not holds(searcher, hit.caption, "red")


@pytest.mark.parametrize("query, message", [
    ("circle + item:00000000deadbeef", "No item with id '00000000deadbeef'"),
    ('circle - "./pool.jpg"', 'The picture term "./pool.jpg" names a file, which only the command line reads'),
])
def test_an_unknown_item_or_an_unread_picture_is_one_error(searcher, query, message):
    with pytest.raises(SearchError, match=message):
        searcher.text_candidates(query)


def test_the_cli_reads_a_picture_term_and_ranks_as_the_image_search(searcher, tmp_path, capsys):
    import json

    item = searcher.collection.all_items()[7]
    data = item.media_path.read_bytes()
    picture = tmp_path / "query picture.png"
    picture.write_bytes(data)
    store_dir, name = str(searcher.collection._store.root), searcher.collection.name
    code = main(["search", f'"{picture}"', "--mode", "vector", "--k", "10", "--json", "--store", store_dir,
                 "--collection", name])
    hits = json.loads(capsys.readouterr().out)["hits"]
    expected = searcher.similar(decode_query(data), k=10).hits
    assert code == 0 and [h["id"] for h in hits] == [h.id for h in expected] and item.id not in [h["id"] for h in hits]
    assert hits[0]["terms"][0]["kind"] == "picture" and hits[0]["terms"][0]["bm25"] is None
    (tmp_path / "broken.jpg").write_bytes(b"not a picture" * 10)
    for path, message in ((tmp_path / "missing.jpg", "Cannot read"), (tmp_path / "broken.jpg", "The picture term")):
        code = main(["search", f'circle + "{path}"', "--store", store_dir, "--collection", name])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0]
