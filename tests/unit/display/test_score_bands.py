"""The band as cards show it: a word and an icon in a coloured badge, the raw evidence, what the band means."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from imgsearch_core.display.scores import BAND_NOTES, band_badge, band_markdown, evidence_label
from imgsearch_core.search.relevance import BANDS, Verdict


@pytest.mark.parametrize("band", BANDS)
def test_a_badge_says_its_band_in_words_not_colour_alone(band):
    v = Verdict(band, "cosine 0.300", 1.5)
    badge = band_badge(v)
    assert badge.startswith(f":{v.colour}-badge[:material/") and badge.endswith(f" {v.label}]")
    assert v.label.endswith("match")
    assert len({band_badge(Verdict(b, "", 0.0)) for b in BANDS}) == 3


@pytest.mark.parametrize("mode, expected", [("vector", "cos 0.312"), ("text", "BM25 4.57"),
                                            ("hybrid", "cos 0.312 · BM25 4.57")])
def test_the_evidence_label_is_the_raw_score_of_each_side_the_mode_uses(mode, expected):
    hit = SimpleNamespace(cosine=0.3124, bm25=4.5678, score=1.0)
    assert evidence_label(hit, mode) == expected
    assert evidence_label(SimpleNamespace(cosine=None, bm25=None, score=1.0), mode) == "no match on this side"


def test_the_explanation_names_the_evidence_the_meaning_and_the_calibration_note():
    v = Verdict("weak", "cosine 0.250 · 1 of 2 query words in the caption", 1.4)
    text = band_markdown(v, "only 4 captioned items: text hits are banded by their keywords alone")
    assert v.evidence in text and BAND_NOTES["weak"] in text
    assert ":gray[only 4 captioned items" in text and "Rank score" in text
    assert "only" not in band_markdown(v)
