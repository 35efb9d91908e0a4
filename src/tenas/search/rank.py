"""TE-NAS ranking: order candidates by the change in kappa_N and R_N when removed, sum the ranks, prune.

Conventions (the paper and the official code):
- ``d_kappa = (kappa_full - kappa_without) / kappa_full``: high means removing the op makes the supernet
  more trainable, so it is ranked first (rank 0) -- descending order.
- ``d_regions = (R_full - R_without) / R_full``: low (or negative) means removing the op costs little
  expressivity, so it is ranked first -- ascending order.
- Values equal to ``precision`` significant digits share a rank (dense ranking: 0, 0, 1, 2, ...).
- On each edge the candidates with the lowest rank sum are pruned; ties go to the better kappa rank, then
  to the lower (edge, op) position, so the choice is deterministic.

Non-finite values never crash the ranking: they are mapped to a defined order (see :func:`relative_drop`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def relative_drop(full: float, without: float) -> float:
    """``(full - without) / full`` with a defined value for non-finite inputs.

    - both finite, ``full != 0``: the plain ratio;
    - ``without`` is inf or NaN (removing the op breaks the measure) while ``full`` is finite: ``-inf``
      (worst possible drop: the op is kept);
    - ``full`` is inf/NaN and ``without`` is finite: ``1.0`` (removing the op repairs the measure: the
      largest possible finite drop);
    - neither is finite, or ``full == 0``: ``0.0`` (no information).
    """
    f_ok, w_ok = math.isfinite(full), math.isfinite(without)
    if f_ok and w_ok:
        return 0.0 if full == 0 else (full - without) / full
    if f_ok and not w_ok:
        return -math.inf
    if w_ok and not f_ok:
        return 1.0
    return 0.0


def round_sig(x: float, digits: int = 3) -> float:
    """Round to ``digits`` significant digits (inf and 0 unchanged; NaN becomes -inf)."""
    if math.isnan(x):
        return -math.inf
    if x == 0 or math.isinf(x):
        return x
    return round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def dense_rank(values: Sequence[float], descending: bool, digits: int = 3) -> list[int]:
    """Dense ranks (0 = first) of ``values`` after rounding to ``digits`` significant digits."""
    keys = [round_sig(v, digits) for v in values]
    distinct = sorted(set(keys), reverse=descending)
    position = {k: i for i, k in enumerate(distinct)}
    return [position[k] for k in keys]


@dataclass(frozen=True)
class Ranked:
    """One candidate (cell type, edge, op) with its scores and ranks."""

    cell_type: int
    edge: int
    op: int
    d_kappa: float
    d_regions: float
    kappa_rank: int
    regions_rank: int

    @property
    def rank_sum(self) -> int:
        return self.kappa_rank + self.regions_rank


def rank_candidates(
    candidates: Sequence[tuple[int, int, int]],
    d_kappa: Sequence[float],
    d_regions: Sequence[float],
    digits: int = 3,
) -> list[Ranked]:
    """Rank every candidate by d_kappa (descending) and d_regions (ascending); sorted by rank sum."""
    if not (len(candidates) == len(d_kappa) == len(d_regions)):
        raise ValueError("candidates, d_kappa and d_regions must have the same length")
    k_rank = dense_rank(d_kappa, descending=True, digits=digits)
    r_rank = dense_rank(d_regions, descending=False, digits=digits)
    ranked = [
        Ranked(c[0], c[1], c[2], float(dk), float(dr), kr, rr)
        for c, dk, dr, kr, rr in zip(candidates, d_kappa, d_regions, k_rank, r_rank)
    ]
    ranked.sort(key=lambda r: (r.rank_sum, r.kappa_rank, r.cell_type, r.edge, r.op))
    return ranked


def choose_prunes(ranked: Sequence[Ranked], prune_number: dict[tuple[int, int], int]) -> list[Ranked]:
    """On each (cell type, edge), the first ``prune_number[edge]`` candidates of the ranked list."""
    taken: dict[tuple[int, int], int] = {}
    chosen = []
    for r in ranked:
        key = (r.cell_type, r.edge)
        if taken.get(key, 0) < prune_number.get(key, 0):
            taken[key] = taken.get(key, 0) + 1
            chosen.append(r)
    return chosen
