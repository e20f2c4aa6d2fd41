"""The caption audit's statistics and calibration on synthetic cosines: what a score means must not depend on
a real model. Matching pairs score low, wrong pairings (the null the audit simulates) score high."""
from __future__ import annotations

import numpy as np
import pytest

from imgsearch_core.evaluation.caption_audit import STATISTICS, auroc, calibrate


def test_a_clean_collection_gets_low_suspicion_and_a_mixed_one_flags_its_wrong_captions():
    rng = np.random.default_rng(0)
    wrong = rng.normal(0.0, 1.0, 5000)
    clean = rng.normal(-3.0, 0.7, 5000)
    suspicion, share = calibrate(clean, wrong)
    assert share < 0.01 and suspicion.max() < 0.5

    mixed = np.concatenate([rng.normal(-3.0, 0.7, 4500), rng.normal(0.0, 1.0, 500)])
    suspicion, share = calibrate(mixed, wrong)
    assert share == pytest.approx(0.1, abs=0.02)
    flagged = suspicion > 0.9
    assert flagged.sum() > 200 and flagged[4500:].sum() / flagged.sum() >= 0.85  # ~90 % wrong (measured 88 %)
    order = np.argsort(mixed)
    assert np.all(np.diff(suspicion[order]) >= 0)  # monotone in the statistic
    assert auroc(suspicion, np.arange(5000) >= 4500) > 0.95


def test_every_statistic_ranks_a_wrong_caption_above_a_matching_one():
    rng = np.random.default_rng(1)
    by_caption = rng.normal(0.2, 0.05, (2, 300))
    by_picture = rng.normal(0.2, 0.05, (2, 300))
    by_caption[0, 5] = by_picture[1, 7] = np.nan  # an item's own reference entry is left out
    own = np.array([0.4, 0.15])  # item 0's caption fits its picture; item 1's fits worse than most others
    for name, statistic in STATISTICS.items():
        first, second = statistic(own, by_caption, by_picture)
        assert second > first, name
    ranks = STATISTICS["mutual-rank"](own, by_caption, by_picture)
    assert ranks[0] == 0.0 and 0.7 < ranks[1] <= 1.0


def test_auroc_counts_ties_half_and_needs_both_classes():
    assert auroc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert auroc([1, 1], [False, True]) == 0.5
    with pytest.raises(ValueError):
        auroc([1, 2], [True, True])
