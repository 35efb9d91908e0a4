"""Budgets: parsing, the guard against a brute force over NAS-Bench-Macro's table, and searches that keep them."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from tenas.search.budget import Budget, BudgetError, BudgetGuard, parse_amount
from tenas.spaces import get_space


@pytest.mark.parametrize("text, value", [("500k", 500_000), ("0.5M", 500_000), ("60M", 60_000_000), ("1200000", 1_200_000),
                                         ("1.2G", 1_200_000_000), (" 7 ", 7), ("2m", 2_000_000), (".5k", 500)])
def test_amounts_parse(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["", "abc", "5 MB", "-3M", "0", "0k", "1e6", "M", "5MM", "nan"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(BudgetError):
        parse_amount(text)


@pytest.fixture(scope="module")
def macro_rows(shared_dir):
    with open(shared_dir / "data" / "nb_macro" / "nb_macro_cifar10.csv") as f:
        return {r["arch"]: (int(r["params"]), int(r["flops"])) for r in csv.DictReader(f)}


def test_guard_feasibility_is_the_brute_force_over_the_table(macro_rows):
    """For random partial masks and budgets, the guard says 'feasible' exactly when some architecture of the
    benchmark's table that the mask can become is within the budget (the table's own params and FLOPs)."""
    space = get_space("macro")
    rng = np.random.default_rng(0)
    flops = sorted(f for _, f in macro_rows.values())
    for trial in range(40):
        budget = Budget(max_flops=int(flops[rng.integers(0, len(flops))]) if trial % 2 == 0 else None,
                        max_params=int(rng.integers(400_000, 3_000_000)) if trial % 3 else None)
        if not budget:
            budget = Budget(max_flops=60_000_000)
        guard = BudgetGuard(space, budget, 10, space.initial_alive())
        for _ in range(10):
            alive = rng.random((1, 8, 3)) < 0.5
            alive[0, np.arange(8), rng.integers(0, 3, 8)] = True
            choices = [np.flatnonzero(alive[0, e]) for e in range(8)]
            want = any(budget.allows(type("C", (), {"params": macro_rows["".join(map(str, p))][0],
                                                    "flops": macro_rows["".join(map(str, p))][1]})())
                       for p in itertools.product(*choices))
            assert guard.feasible(alive) == want


def test_a_budget_no_architecture_meets_names_the_smallest(macro_rows):
    smallest = min(p for p, _ in macro_rows.values())
    with pytest.raises(BudgetError, match=f"{smallest:,} parameters"):
        BudgetGuard(get_space("macro"), Budget(max_params=smallest - 1), 10, get_space("macro").initial_alive())


def test_darts_takes_no_budget():
    space = get_space("darts")
    with pytest.raises(BudgetError, match="edge-selection"):
        BudgetGuard(space, Budget(max_params=3_000_000), 10, space.initial_alive())
