"""The top of a proxy's ranking: the best-scored cell's accuracy and the exact expected best of k random cells."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tenas.correlate import stats


def brute_force_best_of(score, acc, k):
    """Every k-subset, its best-scored cells (ties: each equally likely), averaged."""
    s = np.where(np.isfinite(score), score, -np.inf)
    total, count = 0.0, 0
    for subset in itertools.combinations(range(len(s)), k):
        sub = np.array(subset)
        best = sub[s[sub] == s[sub].max()]
        total += float(np.mean(np.asarray(acc)[best]))
        count += 1
    return total / count


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_expected_best_of_equals_every_subset(k):
    rng = np.random.default_rng(0)
    acc = rng.uniform(60, 95, 7)
    for score in (rng.normal(size=7),                                   # no ties
                  np.array([1, 2, 2, 3, 3, 3, 0.5]),                    # tie groups
                  np.array([1, np.nan, 2, 2, -np.inf, 3, np.inf])):      # failures score lowest
        assert stats.expected_best_of(score, acc, k) == pytest.approx(brute_force_best_of(score, acc, k), rel=1e-12)


def test_best_of_k_limits_and_top_accuracy():
    acc = np.array([50.0, 70.0, 90.0, 80.0])
    assert stats.expected_best_of(acc, acc, 1) == pytest.approx(acc.mean())        # one cell: a random cell
    assert stats.expected_best_of(acc, acc, 4) == pytest.approx(90.0)             # all cells: the best one
    # the oracle's best of 2 out of 4: max over the 6 pairs by hand = (70+90+80+90+80+90)/6
    assert stats.expected_best_of(acc, acc, 2) == pytest.approx((70 + 90 + 80 + 90 + 80 + 90) / 6)
    assert stats.top_accuracy(np.array([0.1, 5.0, np.nan, 5.0]), acc) == pytest.approx(75.0)  # tie: cells 1 and 3, 70 / 80
    assert math.isnan(stats.top_accuracy(np.array([np.nan] * 4), acc))
    with pytest.raises(ValueError, match="k must be in 1..4"):
        stats.expected_best_of(acc, acc, 5)
    # 1,000 cells, k = 100: no overflow, between a random cell and the best cell
    big = np.random.default_rng(1).uniform(0, 100, 1000)
    v = stats.expected_best_of(big, big, 100)
    assert big.mean() < v < big.max() and v == pytest.approx(100 * 100 / 101, abs=0.5)  # E[max of 100 U(0,100)]
