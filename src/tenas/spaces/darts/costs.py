"""Parameters and FLOPs of DARTS' evaluation networks, as sums of one term per (cell type, edge, op).

A DARTS evaluation network is its stem, every cell's two preprocessing convolutions, the classifier (the
*base*: the same for every genotype) and, in every cell, the ops on its chosen edges. An op's module depends only
on the cell (its channels, its stride on the edges leaving states 0 and 1 of a reduction cell), so the cost of a
genotype is the base plus, for each of its (op, input) pairs, the op's cost on that edge summed over all cells of
the pair's type. The terms are measured once on the network with every op on every edge: parameters by module,
FLOPs by the benchmark convention of :mod:`tenas.spaces.flops` (multiply-adds of convolutions and linear layers).
Budgets use them to bound the cheapest network a pruned supernet can still become without listing them all.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from tenas.spaces.base import Cost
from tenas.spaces.flops import module_flops
from tenas.spaces.genotypes import GenotypeLike, to_genotype

#: The evaluation networks the costs are of: (C, total cells, stem, input side) -- DARTS' CIFAR network, and its
#: ImageNet mobile network for ``imagenet``; the auxiliary head is excluded, as DARTS counts parameters.
EVAL_SETTINGS = {"cifar": (36, 20, "cifar", 32), "imagenet": (48, 14, "imagenet", 224)}


def _setting(dataset: str) -> tuple[int, int, str, int]:
    return EVAL_SETTINGS["imagenet" if dataset == "imagenet" else "cifar"]


@functools.lru_cache(maxsize=8)
def cost_terms(num_classes: int, dataset: str = "cifar10") -> tuple[Cost, np.ndarray]:
    """``(base, terms)``: the cost of everything but the edges' ops, and ``terms[t, e, k] = (params, FLOPs)`` that
    op ``k`` (:data:`OP_NAMES`) on edge ``e`` adds over all cells of type ``t`` (0 normal, 1 reduce).

    Each op is measured once per kind of cell (type, channels, input side) on its own input, and counted once per
    cell of that kind; the base is one network's measured cost less its ops' terms."""
    from tenas.spaces.darts.network import CELL_TYPES, EDGES, NUM_EDGES, OP_NAMES, DartsNetwork, count_parameters
    from tenas.spaces.flops import count_flops

    C, layers, stem, side = _setting(dataset)
    all_ops = [OP_NAMES] * NUM_EDGES
    net = DartsNetwork(all_ops, all_ops, C=C, layers=layers, num_classes=int(num_classes), stem=stem,
                       stem_multiplier=3, auxiliary=False, average=False)
    terms = np.zeros((len(CELL_TYPES), NUM_EDGES, len(OP_NAMES), 2), dtype=np.int64)
    kinds: dict[tuple[int, int, int], list] = {}
    h = side // 8 if stem == "imagenet" else side  # the ImageNet stem reduces 8x before the first cell
    for cell in net.cells:
        kinds.setdefault((int(cell.reduction), cell.C, h), []).append(cell)
        h = h // 2 if cell.reduction else h
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for (t, c, h), cells in kinds.items():
            for e, edge in enumerate(cells[0].edges):
                side_in = h // 2 if t and EDGES[e][1] >= 2 else h  # a reduction cell's own states are halved
                for name, op in edge.ops.items():
                    k = OP_NAMES.index(name)
                    terms[t, e, k] += len(cells) * np.array([sum(p.numel() for p in op.parameters()),
                                                             _flops(op, (1, c, side_in, side_in))])
        from tenas.spaces.genotypes import Genotype

        first = [("max_pool_3x3", 0), ("max_pool_3x3", 1)] * 4  # any genotype: the base is what is not its ops
        g = Genotype(first, [2, 3, 4, 5], first, [2, 3, 4, 5])
        from tenas.spaces.darts.network import build_imagenet_network, build_network

        build = build_imagenet_network if stem == "imagenet" else build_network
        whole = build(g, num_classes=int(num_classes), auxiliary=False)
        measured = np.array([count_parameters(whole), int(round(count_flops(whole, (1, 3, side, side)) * 1e6))])
    finally:
        torch.set_num_threads(threads)
    base = measured - _sum_terms(g, terms)
    return Cost(int(base[0]), int(base[1])), terms


def _flops(module: nn.Module, shape: tuple[int, ...]) -> int:
    """FLOPs of one forward of ``module`` on zeros of ``shape`` (the benchmark convention)."""
    total = [0.0]

    def hook(m: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        total[0] += module_flops(m, inputs, output)

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))]
    was = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(shape))
    finally:
        module.train(was)
        for h in handles:
            h.remove()
    return int(round(total[0]))


def _sum_terms(g, terms: np.ndarray) -> np.ndarray:
    """The terms of a genotype's (op, input) pairs, summed: (params, FLOPs)."""
    from tenas.spaces.darts.network import EDGE_INDEX, OP_NAMES

    total = np.zeros(2, dtype=np.int64)
    for t, (pairs, concat) in enumerate(((g.normal, g.normal_concat), (g.reduce, g.reduce_concat))):
        if tuple(concat) != (2, 3, 4, 5):
            raise ValueError(f"costs are defined for cells that concatenate states 2..5, got concat {list(concat)}")
        for i, (op, src) in enumerate(pairs):
            total += terms[t, EDGE_INDEX[(2 + i // 2, src)], OP_NAMES.index(op)]
    return total


def genotype_cost(g: GenotypeLike, num_classes: int, dataset: str = "cifar10") -> Cost:
    """Parameters and FLOPs of a genotype's evaluation network (no auxiliary head), from :func:`cost_terms`."""
    base, terms = cost_terms(int(num_classes), dataset)
    total = np.array([base.params, base.flops], dtype=np.int64) + _sum_terms(to_genotype(g), terms)
    return Cost(int(total[0]), int(total[1]))


def cheapest(alive: np.ndarray, terms: np.ndarray, groups, keep: int) -> np.ndarray:
    """The Pareto front of (params, FLOPs) over every genotype an alive mask can still become (one alive op per
    kept edge, ``keep`` edges with an alive op per group of ``groups`` in each cell type): rows (params, FLOPs)
    without the base, none dominated by another. Empty when the mask can become no genotype."""
    import itertools

    front = np.zeros((1, 2), dtype=np.int64)
    alive = np.asarray(alive, dtype=bool)
    for t in range(alive.shape[0]):
        for a, b in groups:
            options = []
            live = [e for e in range(a, b) if alive[t, e].any()]
            for edges in itertools.combinations(live, keep):
                per_edge = [terms[t, e][alive[t, e]] for e in edges]
                for combo in itertools.product(*per_edge):
                    options.append(np.sum(combo, axis=0))
            if not options:
                return np.zeros((0, 2), dtype=np.int64)
            sums = (front[:, None, :] + _pareto(np.array(options))[None, :, :]).reshape(-1, 2)
            front = _pareto(sums)
    return front


def _pareto(points: np.ndarray) -> np.ndarray:
    """The rows of ``points`` (n, 2) that no other row is <= in both and < in one of (duplicates once)."""
    points = np.unique(points, axis=0)  # sorted by params, then FLOPs
    keep, best = [], None
    for p in points:
        if best is None or p[1] < best:
            keep.append(p)
            best = p[1]
    return np.array(keep, dtype=np.int64).reshape(-1, 2)
