"""Budgets: ``--max-params`` / ``--max-flops`` on the final network, kept by the pruning and the local search.

A :class:`Budget` is measured by the space's cost function (``space.cost(arch, num_classes[, dataset])``:
parameters and FLOPs by the space's benchmark convention) on the final network for the dataset's class count.
A guard (:func:`make_guard`) knows the cost of what the search can still end at, so that

* the pruning never removes an op (nor, in an edge phase, an edge) when no architecture the smaller supernet can
  become is within the budget (``feasible``), and so always ends within it;
* the local search moves only to neighbours within it (``allows``).

:class:`BudgetGuard` lists every architecture below the supernet (NAS-Bench-201, NB-Macro, small spaces of one's
own); :class:`FrontGuard` asks the space for the Pareto front of (params, FLOPs) that a mask can still reach
(``space.cost_front(alive, num_classes, dataset)``: DARTS, whose edge phase makes its architectures unlistable).
"""

from __future__ import annotations

import dataclasses
import itertools
import re

import numpy as np

from tenas.spaces.base import cost_of

__all__ = ["Budget", "BudgetGuard", "FrontGuard", "BudgetError", "make_guard", "parse_amount", "MAX_COMPLETIONS"]

#: The most architectures a guard enumerates (NAS-Bench-201: 4,096 below a full supernet; NB-Macro: 6,561).
MAX_COMPLETIONS = 500_000
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kKmMgG]?)\s*$")


class BudgetError(ValueError):
    """A budget that does not parse, that no architecture meets, or that the space cannot measure."""


def parse_amount(text: str | int | float, what: str = "budget") -> int:
    """``500k``, ``0.5M``, ``60M``, ``1.2G`` or a plain integer -> a positive int (``BudgetError`` otherwise)."""
    if isinstance(text, bool):
        raise BudgetError(f"{what} must be a positive number such as 500k, 0.5M, 60M or 1200000, got {text!r}")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        m = _AMOUNT.match(str(text))
        if not m:
            raise BudgetError(f"{what} {text!r} does not parse: write a positive number such as 500k, 0.5M, 60M "
                              "or 1200000 (k = 1e3, M = 1e6, G = 1e9)")
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not value >= 1:
        raise BudgetError(f"{what} must be at least 1, got {text!r}")
    return int(round(value))


@dataclasses.dataclass(frozen=True)
class Budget:
    """Upper bounds on the final network's parameters and FLOPs (None: no bound)."""

    max_params: int | None = None
    max_flops: int | None = None

    def __bool__(self) -> bool:
        return self.max_params is not None or self.max_flops is not None

    def allows(self, cost) -> bool:
        """Whether a :class:`tenas.spaces.base.Cost` is within every bound."""
        return ((self.max_params is None or cost.params <= self.max_params)
                and (self.max_flops is None or cost.flops <= self.max_flops))

    def describe(self) -> str:
        parts = [f"params <= {self.max_params:,}" if self.max_params is not None else "",
                 f"FLOPs <= {self.max_flops:,}" if self.max_flops is not None else ""]
        return " and ".join(p for p in parts if p) or "none"

    def to_dict(self) -> dict:
        return {"max_params": self.max_params, "max_flops": self.max_flops}


def make_guard(space, budget: Budget, num_classes: int, start: np.ndarray, dataset: str = "cifar10"):
    """The guard of a budget on a space: a :class:`FrontGuard` when the space gives its cost front, else a
    :class:`BudgetGuard`. ``BudgetError`` when the space cannot measure the budget or nothing meets it."""
    if hasattr(space, "cost_front"):
        return FrontGuard(space, budget, num_classes, start, dataset)
    return BudgetGuard(space, budget, num_classes, start, dataset)


def _nothing_meets(space, budget: Budget, num_classes: int, params: int, flops: int) -> BudgetError:
    return BudgetError(f"no architecture of space {space.name!r} meets the budget ({budget.describe()}): the "
                       f"smallest has {params:,} parameters and {flops:,} FLOPs ({num_classes} classes)")


class BudgetGuard:
    """Every architecture reachable from a start mask, its cost and whether it is within ``budget``."""

    def __init__(self, space, budget: Budget, num_classes: int, start: np.ndarray, dataset: str = "cifar10"):
        if space.edge_groups():
            raise BudgetError(f"space {space.name!r} ends with an edge-selection phase: budgets need every "
                              "architecture the search can end at, which this guard cannot list for it (a space "
                              "can give cost_front(alive, num_classes, dataset) instead)")
        if cost_of(space, _any_arch(space, start), num_classes, dataset) is None:
            raise BudgetError(f"space {space.name!r} has no cost function (cost(arch, num_classes)): it cannot "
                              "take --max-params / --max-flops")
        self.space, self.budget, self.num_classes, self.dataset = space, budget, num_classes, dataset
        start = np.asarray(start, dtype=bool)
        self.shape = start.shape
        flat = start.reshape(-1, start.shape[-1])
        choices = [np.flatnonzero(row) for row in flat]
        total = int(np.prod([max(1, len(c)) for c in choices], dtype=np.float64))
        if total > MAX_COMPLETIONS:
            raise BudgetError(f"space {space.name!r}: {total:,} architectures below the supernet, more than the "
                              f"{MAX_COMPLETIONS:,} a budget guard lists")
        self.picks = np.asarray(list(itertools.product(*choices)), dtype=np.int64)
        self.archs: list[str] = []
        params, flops = [], []
        cache: dict[str, tuple[int, int]] = {}
        for pick in self.picks:
            arch = space.genotype(self._mask(pick))
            if arch not in cache:
                c = cost_of(space, arch, num_classes, dataset)
                cache[arch] = (int(c.params), int(c.flops))
            self.archs.append(arch)
            params.append(cache[arch][0])
            flops.append(cache[arch][1])
        self.params, self.flops = np.asarray(params), np.asarray(flops)
        self.ok = np.ones(len(self.archs), dtype=bool)
        if budget.max_params is not None:
            self.ok &= self.params <= budget.max_params
        if budget.max_flops is not None:
            self.ok &= self.flops <= budget.max_flops
        if not self.ok.any():
            raise _nothing_meets(space, budget, num_classes, int(self.params.min()), int(self.flops.min()))

    def _mask(self, pick: np.ndarray) -> np.ndarray:
        m = np.zeros((len(pick), self.shape[-1]), dtype=bool)
        m[np.arange(len(pick)), pick] = True
        return m.reshape(self.shape)

    def reachable(self, alive: np.ndarray) -> np.ndarray:
        """Which listed architectures a mask can still become (bool per architecture)."""
        flat = np.asarray(alive, dtype=bool).reshape(-1, self.shape[-1])
        return flat[np.arange(flat.shape[0]), self.picks].all(axis=1)

    def feasible(self, alive: np.ndarray) -> bool:
        """Whether some architecture the mask can still become is within the budget."""
        return bool((self.reachable(alive) & self.ok).any())

    def allows(self, arch: str) -> bool:
        """Whether an architecture is within the budget (measured by the space's cost function)."""
        return self.budget.allows(cost_of(self.space, arch, self.num_classes, self.dataset))

    def summary(self) -> dict:
        """How many listed architectures the budget admits, and the largest cost among them."""
        return {"architectures": len(self.archs), "within_budget": int(self.ok.sum()),
                "largest_params_within": int(self.params[self.ok].max()),
                "largest_flops_within": int(self.flops[self.ok].max())}


class FrontGuard:
    """A budget kept through the space's cost front: ``space.cost_front(alive, num_classes, dataset)`` gives the
    Pareto front (rows of params, FLOPs) of every architecture a mask can still become, exactly."""

    def __init__(self, space, budget: Budget, num_classes: int, start: np.ndarray, dataset: str = "cifar10"):
        self.space, self.budget, self.num_classes, self.dataset = space, budget, num_classes, dataset
        front = self._front(start)
        if not self._meets(front).any():
            raise _nothing_meets(space, budget, num_classes, int(front[:, 0].min()), int(front[:, 1].min()))
        self.start_front = front

    def _front(self, alive: np.ndarray) -> np.ndarray:
        return np.asarray(self.space.cost_front(np.asarray(alive, dtype=bool), self.num_classes, self.dataset),
                          dtype=np.int64).reshape(-1, 2)

    def _meets(self, front: np.ndarray) -> np.ndarray:
        ok = np.ones(len(front), dtype=bool)
        if self.budget.max_params is not None:
            ok &= front[:, 0] <= self.budget.max_params
        if self.budget.max_flops is not None:
            ok &= front[:, 1] <= self.budget.max_flops
        return ok

    def feasible(self, alive: np.ndarray) -> bool:
        """Whether some architecture the mask can still become is within the budget."""
        return bool(self._meets(self._front(alive)).any())

    def allows(self, arch: str) -> bool:
        """Whether an architecture is within the budget (measured by the space's cost function)."""
        return self.budget.allows(cost_of(self.space, arch, self.num_classes, self.dataset))

    def summary(self) -> dict:
        """The cheapest the supernet can become (the front's ends); the space's architectures are not listed."""
        f = self.start_front
        return {"smallest_params": int(f[:, 0].min()), "smallest_flops": int(f[:, 1].min()),
                "front_points_within": int(self._meets(f).sum())}


def _any_arch(space, start: np.ndarray) -> str:
    """The first architecture a mask can become (each choice point's first alive op)."""
    start = np.asarray(start, dtype=bool)
    flat = start.reshape(-1, start.shape[-1])
    m = np.zeros_like(flat)
    m[np.arange(flat.shape[0]), flat.argmax(axis=1)] = True
    return space.genotype(m.reshape(start.shape))
