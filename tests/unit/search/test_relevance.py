"""Relevance bands from matched and random cosines: thresholds, the calibrated level, keyword and hybrid bands."""
from __future__ import annotations

import numpy as np
import pytest

from imgsearch_core.search.relevance import (
    BANDS, IMAGE_STRONG_QUANTILE, NO_MATCH_QUANTILE, STRONG_QUANTILE, UNCALIBRATED, Calibration, band_of,
    PHRASE_WEIGHT, keyword_share, model_key, phrase_share, tail_thresholds, thresholds_from, verdict,
)

RNG = np.random.default_rng(7)
RANDOM = RNG.normal(0.0, 0.05, 20_000)
MATCHED = RNG.normal(0.3, 0.03, 500)


def calibration(bounds=None) -> Calibration:
    bounds = bounds or thresholds_from(MATCHED, RANDOM)
    return Calibration(bounds, bounds, 256, 256)


def test_thresholds_sit_at_the_quantiles_of_the_two_distributions():
    bounds = thresholds_from(MATCHED, RANDOM)
    assert bounds.no_match_below == pytest.approx(np.quantile(RANDOM, NO_MATCH_QUANTILE))
    assert bounds.strong_from == pytest.approx(np.quantile(MATCHED, STRONG_QUANTILE))
    assert bounds.typical == pytest.approx(np.median(RANDOM))
    assert bounds.matched == pytest.approx(np.median(MATCHED))
    assert bounds.pairs == RANDOM.size
    assert 0.1 < bounds.no_match_below < 0.15 < 0.27 < bounds.strong_from < 0.3


def test_a_random_pair_is_no_match_and_a_typical_matched_pair_is_strong():
    cal = calibration()
    bands = [verdict(cal, query="text", mode="vector", cosine=c, bm25=None).band for c in (0.0, 0.2, 0.31)]
    assert bands == ["none", "weak", "strong"]
    share_strong = np.mean([verdict(cal, query="text", mode="vector", cosine=c, bm25=None).band == "strong"
                            for c in MATCHED])
    share_none = np.mean([verdict(cal, query="text", mode="vector", cosine=c, bm25=None).band == "none"
                          for c in RANDOM[:2000]])
    assert share_strong == pytest.approx(1 - STRONG_QUANTILE, abs=0.02)
    assert share_none == pytest.approx(NO_MATCH_QUANTILE, abs=0.01)


def test_level_and_band_grow_with_the_cosine():
    bounds = thresholds_from(MATCHED, RANDOM)
    grid = np.linspace(-1, 1, 401)
    levels = [bounds.level(c) for c in grid]
    assert all(b > a for a, b in zip(levels, levels[1:]))
    assert bounds.level(bounds.no_match_below) == pytest.approx(1.0)
    assert bounds.level(bounds.strong_from) == pytest.approx(2.0)
    ranks = [BANDS.index(band_of(level)) for level in levels]
    assert ranks == sorted(ranks) and set(ranks) == {0, 1, 2}


def test_overlapping_distributions_never_put_strong_below_no_match():
    bounds = thresholds_from(RANDOM[:100] - 0.5, RANDOM)  # "matched" pairs further apart than random ones
    assert bounds.strong_from > bounds.no_match_below > bounds.typical
    assert band_of(bounds.level(bounds.no_match_below - 1e-3)) == "none"


@pytest.mark.parametrize("matched, random", [([], [0.1, 0.2]), ([0.3], [])])
def test_a_calibration_needs_both_kinds_of_pairs(matched, random):
    with pytest.raises(ValueError, match="matched and random"):
        thresholds_from(matched, random)


def test_keyword_bands_count_the_query_words_in_the_caption():
    assert keyword_share(["red", "circle", "red"], ["a", "red", "square"]) == (1, 2)
    bands = {found: verdict(UNCALIBRATED, query="text", mode="text", cosine=None, bm25=3.5, keywords=(found, 3))
             for found in (0, 1, 2, 3)}
    assert [bands[f].band for f in range(4)] == ["none", "weak", "weak", "strong"]
    assert [bands[f].level for f in range(4)] == sorted(bands[f].level for f in range(4))
    assert bands[2].evidence == "2 of 3 query words in the caption (BM25 3.50)"


def test_a_hybrid_hit_adds_the_share_of_words_to_the_cosine_level():
    cal = calibration()
    bounds = cal.text
    weak_cosine = (bounds.no_match_below + bounds.strong_from) / 2  # level 1.5
    alone = verdict(cal, query="text", mode="vector", cosine=weak_cosine, bm25=None)
    by_words = [verdict(cal, query="text", mode="hybrid", cosine=weak_cosine, bm25=2.0, keywords=(found, 2))
                for found in (0, 1, 2)]
    assert [v.level for v in by_words] == pytest.approx([alone.level - 0.5, alone.level, alone.level + 0.5])
    assert alone.band == by_words[1].band == "weak" and by_words[2].band == "strong"
    assert by_words[1].evidence == f"cosine {weak_cosine:.3f} · 1 of 2 query words in the caption (BM25 2.00)"
    low = verdict(cal, query="text", mode="hybrid", cosine=bounds.no_match_below + 1e-4, bm25=None, keywords=(0, 1))
    assert low.band == "none"  # a bare cosine just above unrelated pairs, with none of the words


def test_a_phrase_pair_counts_only_when_adjacent_and_in_order():
    query = ["red", "circle"]
    assert phrase_share(query, ["red", "square", "blue", "circle"]) == (0, 1)  # both words, not the pair
    assert phrase_share(query, ["blue", "square", "red", "circle"]) == (1, 1)
    assert phrase_share(query, ["circle", "red"]) == (0, 1)  # the pair reversed
    assert phrase_share(["police", "car", "police", "car"], ["police", "car", "stop"]) == (1, 2)  # distinct pairs
    assert phrase_share(["car"], ["car"]) == (0, 0)


def test_query_words_kept_together_raise_the_level_over_scattered_ones():
    def text(found, phrases):
        return verdict(UNCALIBRATED, query="text", mode="text", cosine=None, bm25=2.0, keywords=(found, 2),
                       phrases=phrases)
    scattered, together, one_word = text(2, (0, 1)), text(2, (1, 1)), text(2, (0, 0))
    assert scattered.level == one_word.level == 2.0 and together.level == pytest.approx(2.0 + PHRASE_WEIGHT)
    assert text(1, (0, 1)).band == "weak"  # a pair never stands in for a missing word
    assert scattered.evidence == "2 of 2 query words in the caption (BM25 2.00) · 0 of 1 word pair in order"
    cal = calibration()
    cosine = cal.text.strong_from + 1e-3
    hybrid = [verdict(cal, query="text", mode="hybrid", cosine=cosine, bm25=2.0, keywords=(2, 2), phrases=(f, 2))
              for f in (0, 1, 2)]
    assert [v.level for v in hybrid] == sorted(v.level for v in hybrid)
    assert verdict(cal, query="text", mode="vector", cosine=cosine, bm25=None, phrases=(0, 2)).level == \
        pytest.approx(cal.text.level(cosine))  # vector mode: the picture's evidence alone


def test_image_bounds_come_from_the_far_tail_of_random_pairs():
    image = tail_thresholds(RANDOM + 0.5)
    assert image.strong_from == pytest.approx(np.quantile(RANDOM + 0.5, IMAGE_STRONG_QUANTILE))
    assert image.no_match_below == pytest.approx(np.quantile(RANDOM + 0.5, NO_MATCH_QUANTILE))
    assert image.matched is None and image.typical < image.no_match_below < image.strong_from
    with pytest.raises(ValueError, match="random pairs"):
        tail_thresholds([])


def test_image_queries_use_the_image_bounds():
    text = thresholds_from(MATCHED, RANDOM)
    image = tail_thresholds(RANDOM + 0.5)
    cal = Calibration(text, image, 256, 256)
    assert verdict(cal, query="text", mode="vector", cosine=0.4, bm25=None).band == "strong"
    assert verdict(cal, query="image", mode="vector", cosine=0.4, bm25=None).band == "none"


def test_without_a_calibration_a_cosine_is_shown_but_never_strong():
    for cosine in (-0.2, 0.3, 0.99):
        v = verdict(UNCALIBRATED, query="text", mode="vector", cosine=cosine, bm25=None)
        assert v.band == ("weak" if cosine > 0 else "none") and "(not calibrated)" in v.evidence
    assert verdict(UNCALIBRATED, query="text", mode="vector", cosine=None, bm25=None).band == "none"


def test_the_model_key_names_both_towers():
    class Identity:
        def __init__(self, name, fingerprint):
            self.name, self.fingerprint = name, fingerprint

    class Tower:
        identity = Identity("tower", "t1")

    class Query:
        identity = Identity("clip", "c1")
        text_encoder = Tower()

    assert model_key(Query()) == ("clip", "c1", "tower", "t1")
    Tower.identity = Identity("tower", "t2")
    assert model_key(Query()) != ("clip", "c1", "tower", "t1")
