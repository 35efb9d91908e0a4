"""A local step after the pruning: score the found architecture's one-edit neighbours and move to the best.

Pruning decides each choice point from changes of a supernet; the architecture it ends with is then only one of
many similar ones. The local step scores it and every architecture one edit away (``space.neighbours``; on
NAS-Bench-201 the 18 cells that differ on one edge by a non-``none`` op) with zero-cost proxies on their own
networks (:func:`tenas.correlate.protocol.score_cell`, ``tenas correlate --protocol fast``), combines them by a
rank ensemble over everything scored so far, moves to the best, and repeats from there up to ``steps`` times or
until the current one is the best. Proxies that fail (NaN, inf) rank an architecture last for that proxy. With a
budget (``allowed``), neighbours outside it are never scored nor moved to.

A local search is a chain of such steps (:class:`Stage`: its proxies, its number of moves, its scoring protocol),
each starting where the previous one ended (:func:`local_search`); ``--objective tenas+`` runs two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LocalStep", "Stage", "neighbours", "local_step", "local_search", "DEFAULT_MEMBERS", "DEFAULT_STEPS"]

#: What ``--objective tenas+`` climbs by: synflow alone beat 12 other variants over seeds 0-9 of CIFAR-10 and
#: CIFAR-100 (among them the ``tenas correlate`` ensemble naswot+jacob_cov+flops+synflow+ntk;
#: benchmarks/results/local_step_2026-12-02.txt).
DEFAULT_MEMBERS = ("synflow",)
DEFAULT_STEPS = 6


def neighbours(arch: str, space=None) -> list[str]:
    """Every architecture one edit away from ``arch`` in ``space`` (default: the default space)."""
    from tenas.spaces import DEFAULT_SPACE, get_space

    return (space or get_space(DEFAULT_SPACE)).neighbours(arch)


@dataclass
class LocalStep:
    """What the local step did: the path of cells, every scored cell's raw proxy values, and the time."""

    start: str
    arch: str
    path: list = field(default_factory=list)
    scores: dict = field(default_factory=dict)  # cell string -> {proxy: raw}
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"start": self.start, "arch": self.arch, "path": self.path, "scores": self.scores,
                "seconds": self.seconds}


@dataclass(frozen=True)
class Stage:
    """One hill climb of a local search: rank-ensemble ``members`` (``how``), scored under ``protocol`` (a
    ``tenas correlate`` protocol name: ``fast`` or ``published``), for up to ``steps`` moves."""

    members: tuple[str, ...]
    steps: int
    protocol: str = "fast"
    how: str = "logrank"

    def describe(self) -> str:
        return f"{self.how}:{'+'.join(self.members)}, up to {self.steps} move(s), protocol {self.protocol}"


@dataclass
class LocalSearch:
    """What a chain of stages did: the whole path, and each stage's :class:`LocalStep` (its scores among them)."""

    start: str
    arch: str
    path: list = field(default_factory=list)
    stages: list = field(default_factory=list)  # [(Stage, LocalStep)]
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"start": self.start, "arch": self.arch, "path": self.path, "seconds": self.seconds,
                "stages": [{"members": list(st.members), "steps": st.steps, "protocol": st.protocol, "how": st.how,
                            **res.to_dict()} for st, res in self.stages]}


def local_search(arch: str, dataset: str, data: str | None, seed: int, stages, *, space=None,
                 num_classes: int | None = None, allowed=None) -> LocalSearch:
    """Run ``stages`` (:class:`Stage`) one after another from ``arch``; each starts where the previous ended.
    ``space``: whose neighbours (default: the default space); ``allowed(arch)``: a budget's test."""
    from tenas.correlate.presets import get_protocol

    current = arch
    out = None
    for st in stages:
        res = local_step(current, dataset, data, seed, steps=st.steps, members=st.members, how=st.how,
                         protocol=get_protocol(st.protocol), space=space, num_classes=num_classes, allowed=allowed)
        if out is None:
            out = LocalSearch(start=res.start, arch=res.start, path=[res.start])
        out.path.extend(res.path[1:])
        out.stages.append((st, res))
        out.seconds += res.seconds
        current = out.arch = res.arch
    if out is None:
        raise ValueError("a local search needs at least one stage")
    return out


def _aggregate(scores: dict, members, how: str) -> dict:
    """The ensemble value of every cell (higher = predicted better)."""
    from tenas.correlate.stats import ensemble
    from tenas.indicators.registry import get_proxy

    cells = list(scores)
    oriented = {}
    for m in members:
        raw = np.asarray([scores[c][m] for c in cells], dtype=float)
        o = raw if get_proxy(m).higher_is_better else -raw
        oriented[m] = np.where(np.isfinite(o), o, -np.inf)
    total = ensemble(oriented, list(members), how=how)
    return dict(zip(cells, total.tolist()))


def local_step(arch: str, dataset: str, data: str | None, seed: int, *, steps: int = DEFAULT_STEPS,
               members=DEFAULT_MEMBERS, how: str = "logrank", protocol=None, space=None, num_classes: int | None = None,
               allowed=None) -> LocalStep:
    """Hill-climb from ``arch`` over one-edit neighbours by the rank ensemble of ``members``, each scored under
    ``protocol`` (a :class:`tenas.correlate.protocol.Protocol`; None: ``fast``, the setting tenas+ was chosen with).
    ``space``: whose architectures (default: the default space); ``allowed(arch)``: which neighbours may be taken."""
    from tenas.correlate.presets import FAST
    from tenas.correlate.protocol import load_inputs, score_cell
    from tenas.spaces import DEFAULT_SPACE, get_space

    t0 = time.perf_counter()
    space = space or get_space(DEFAULT_SPACE)
    protocol = FAST if protocol is None else protocol
    inputs = load_inputs(dataset, data, seed, protocol, need_crops="regions" in members)
    current = space.canonical(arch)
    result = LocalStep(start=current, arch=current, path=[current])

    def score(cells):
        for c in cells:
            if c not in result.scores:
                rows = score_cell(c, list(members), dataset, seed, protocol, inputs, space=space,
                                  num_classes=num_classes)
                result.scores[c] = {r[0]: r[1] for r in rows}

    score([current])
    for _ in range(int(steps)):
        score([c for c in space.neighbours(current) if allowed is None or allowed(c)])
        values = _aggregate(result.scores, members, how)
        best = max(values, key=lambda c: (values[c], c == current))
        if best == current:
            break
        current = best
        result.path.append(current)
    result.arch = current
    result.seconds = time.perf_counter() - t0
    return result
