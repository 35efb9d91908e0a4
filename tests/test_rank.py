"""TE-NAS ranking and pruning decisions on hand-checked cases."""

import math

import pytest

from tenas.search.rank import choose_prunes, dense_rank, rank_candidates, relative_drop, round_sig


def test_round_sig():
    assert round_sig(0.123456) == 0.123
    assert round_sig(-1234.5) == -1230.0
    assert round_sig(0.00098765) == 0.000988
    assert round_sig(0.0) == 0.0
    assert round_sig(math.inf) == math.inf
    assert round_sig(math.nan) == -math.inf


def test_dense_rank_shares_ranks_at_three_significant_digits():
    values = [0.5, 0.12341, 0.12349, -0.2, 0.5]
    # descending: 0.5 (x2) -> 0, 0.123 (x2, equal to 3 s.f.) -> 1, -0.2 -> 2
    assert dense_rank(values, descending=True) == [0, 1, 1, 2, 0]
    assert dense_rank(values, descending=False) == [2, 1, 1, 0, 2]
    # 0.1235 vs 0.1234 differ at 3 s.f. after rounding (0.124 vs 0.123)
    assert dense_rank([0.1236, 0.1234], descending=True) == [0, 1]


def test_relative_drop_defined_for_non_finite():
    assert relative_drop(100.0, 80.0) == pytest.approx(0.2)
    assert relative_drop(100.0, math.inf) == -math.inf
    assert relative_drop(math.inf, 50.0) == 1.0
    assert relative_drop(math.inf, math.inf) == 0.0
    assert relative_drop(0.0, 1.0) == 0.0
    assert relative_drop(100.0, math.nan) == -math.inf


def test_rank_sum_and_prune_choice_hand_checked():
    # two edges, two ops each; removing (0,0,1) lowers kappa most and costs fewest regions -> pruned
    cands = [(0, 0, 1), (0, 0, 2), (0, 1, 1), (0, 1, 2)]
    d_kappa = [0.30, 0.10, -0.05, 0.20]    # desc ranks: 0, 2, 3, 1
    d_regions = [0.01, 0.05, 0.02, 0.03]   # asc ranks:  0, 3, 1, 2
    ranked = rank_candidates(cands, d_kappa, d_regions)
    sums = {(r.edge, r.op): r.rank_sum for r in ranked}
    assert sums == {(0, 1): 0, (0, 2): 5, (1, 1): 4, (1, 2): 3}
    chosen = choose_prunes(ranked, {(0, 0): 1, (0, 1): 1})
    assert [(c.edge, c.op) for c in chosen] == [(0, 1), (1, 2)]


def test_ties_broken_by_kappa_rank_then_position():
    cands = [(0, 0, 1), (0, 0, 2), (0, 0, 3)]
    # sums: 0+2=2, 1+1=2, 2+0=2 -> all tie; the best kappa rank (op 1) goes
    ranked = rank_candidates(cands, [0.3, 0.2, 0.1], [0.3, 0.2, 0.1])
    assert [r.op for r in ranked] == [1, 2, 3]
    assert [c.op for c in choose_prunes(ranked, {(0, 0): 1})] == [1]
    assert [c.op for c in choose_prunes(ranked, {(0, 0): 2})] == [1, 2]


def test_non_finite_kappa_never_crashes_and_is_kept():
    cands = [(0, 0, 1), (0, 0, 2), (0, 0, 3)]
    d_kappa = [-math.inf, 0.1, 0.05]  # removing op 1 breaks the NTK: keep it
    ranked = rank_candidates(cands, d_kappa, [0.0, 0.0, 0.0])
    assert ranked[-1].op == 1
    assert [c.op for c in choose_prunes(ranked, {(0, 0): 1})] == [2]


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        rank_candidates([(0, 0, 1)], [0.1, 0.2], [0.1])
