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


@pytest.fixture(scope="module")
def darts_terms():
    from tenas.spaces.darts.costs import cost_terms

    return cost_terms(10)


def test_darts_cost_is_the_built_networks_count(darts_terms):
    """The summed terms give exactly DARTS' parameter count and the hooks' FLOPs of the built evaluation network
    (published cells and random ones: reduction-cell edges from states 0/1 at stride 2, from 2+ at half size)."""
    from tenas.spaces import darts
    from tenas.spaces.flops import count_flops
    from tenas.spaces.genotypes import PUBLISHED, random_genotype

    space = get_space("darts")
    for g in [PUBLISHED["DARTS_V2"].genotype, PUBLISHED["TENAS_CIFAR10"].genotype, random_genotype(5),
              random_genotype(11)]:
        net = darts.build_network(g, auxiliary=False)
        cost = space.cost(repr(g), 10)
        assert cost.params == darts.count_parameters(net)
        assert cost.flops == round(count_flops(net) * 1e6)
    # the class count changes the classifier only: 576 inputs (4 x 144 channels) per class, plus a bias
    assert space.cost("DARTS_V2", 100).params - space.cost("DARTS_V2", 10).params == 577 * 90


def _completions(space, alive):
    """Every genotype a DARTS mask can become, by brute force: per cell type and node, 2 of its live edges, one
    alive op on each."""
    from tenas.spaces.darts import EDGE_GROUPS, EDGES, OP_NAMES
    from tenas.spaces.genotypes import Genotype

    per_cell = []
    for t in range(2):
        nodes = []
        for a, b in EDGE_GROUPS:
            live = [e for e in range(a, b) if alive[t, e].any()]
            options = []
            for pair in itertools.combinations(live, 2):
                for ops in itertools.product(*[np.flatnonzero(alive[t, e]) for e in pair]):
                    options.append([(OP_NAMES[k], EDGES[e][1]) for e, k in zip(pair, ops)])
            nodes.append(options)
        per_cell.append([sum(choice, []) for choice in itertools.product(*nodes)])
    return [Genotype(n, [2, 3, 4, 5], r, [2, 3, 4, 5]) for n in per_cell[0] for r in per_cell[1]]


def test_darts_guard_is_the_brute_force_over_completions(darts_terms):
    """On masks small enough to list, the cost front's ends are the cheapest completions, and the guard says
    'feasible' exactly when some completion (costed one by one) is within the budget."""
    from tenas.search.budget import FrontGuard
    from tenas.spaces.darts import MASK_SHAPE

    space = get_space("darts")
    rng = np.random.default_rng(3)
    for trial in range(6):
        # one cell type, in two of its nodes, keeps choices (up to 3 live edges of up to 2 ops: 144 completions at
        # most); every other node has its 2 edges with one op each
        alive = np.zeros(MASK_SHAPE, dtype=bool)
        free = trial % 2, set(rng.choice(4, size=2, replace=False).tolist())
        for t in range(2):
            for g, (a, b) in enumerate(((0, 2), (2, 5), (5, 9), (9, 14))):
                choosing = t == free[0] and g in free[1]
                live = rng.choice(np.arange(a, b), size=min(b - a, 3 if choosing else 2), replace=False)
                for e in live:
                    n_ops = int(rng.integers(1, 3)) if choosing else 1
                    alive[t, e, rng.choice(np.arange(1, 8), size=n_ops, replace=False)] = True
        costs = np.array([[c.params, c.flops] for c in (space.cost(repr(g), 10) for g in _completions(space, alive))])
        front = space.cost_front(alive, 10)
        assert front[:, 0].min() == costs[:, 0].min() and front[:, 1].min() == costs[:, 1].min()
        start = FrontGuard(space, Budget(max_params=int(costs[:, 0].max())), 10, alive)
        for _ in range(8):
            p = int(rng.integers(costs[:, 0].min() - 20_000, costs[:, 0].max()))
            f = int(rng.integers(costs[:, 1].min() - 2_000_000, costs[:, 1].max()))
            budget = Budget(max_params=p, max_flops=f if rng.random() < 0.7 else None)
            want = bool(((costs[:, 0] <= p) & ((costs[:, 1] <= f) if budget.max_flops else True)).any())
            start.budget = budget
            assert start.feasible(alive) == want


@pytest.mark.slow
def test_darts_search_keeps_a_budget(tmp_path):
    """A DARTS search under --max-params ends within it (pruning and edge phase kept feasible) and records it."""
    from tenas.cli import main
    from tenas.report.results import read_json

    out = tmp_path / "d"
    assert main(["search", "--space", "darts", "--max-params", "2M", "--repeats", "1", "--batch-size", "4",
                 "--region-samples", "100", "--quiet", "--workers", "1", "--out", str(out)]) == 0
    result = read_json(out / "result.json")
    cost = get_space("darts").cost(result["arch"], 10)
    assert result["cost"]["params"] == cost.params <= 2_000_000
    assert result["budget"]["max_params"] == 2_000_000 and result["budget"]["smallest_params"] <= cost.params


def test_nb201_budget_on_imagenet16_is_measured_at_16x16():
    """The guard costs a search's architectures on its own data: NB201's ImageNet16-120 networks by the benchmark's
    16x16 FLOPs (its table's figure), not CIFAR's 32x32 ones."""
    from tenas.bench.nb201 import lookup
    from tenas.search.budget import make_guard

    space, arch = get_space("nb201"), "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    rec = lookup(arch)
    flops16 = round(rec.flops_imagenet16_120 * 1e6)
    assert round(rec.flops_cifar100 * 1e6) > 2 * flops16
    guard = make_guard(space, Budget(max_flops=flops16 + 1000), 120, space.initial_alive(), "ImageNet16-120")
    assert guard.allows(arch) and guard.summary()["largest_flops_within"] == pytest.approx(flops16, abs=1000)
    cifar = make_guard(space, Budget(max_flops=flops16 + 1000), 100, space.initial_alive(), "cifar100")
    assert not cifar.allows(arch)
