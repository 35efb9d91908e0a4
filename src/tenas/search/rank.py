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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def relative_drop(full: float, without: float) -> float:
    """``(full - without) / |full|`` (``/ full`` for the positive kappa and R) with a defined value for non-finite inputs.

    - both finite, ``full != 0``: the plain ratio;
    - ``without`` is inf or NaN (removing the op breaks the measure) while ``full`` is finite: ``-inf``
      (worst possible drop: the op is kept);
    - ``full`` is inf/NaN and ``without`` is finite: ``1.0`` (removing the op repairs the measure: the
      largest possible finite drop);
    - neither is finite, or ``full == 0``: ``0.0`` (no information).
    """
    f_ok, w_ok = math.isfinite(full), math.isfinite(without)
    if f_ok and w_ok:
        return 0.0 if full == 0 else (full - without) / abs(full)
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


def round_to_official(x: float, digits: int = 3) -> float:
    """TE-NAS' ``round_to``: ``digits`` significant digits of ``|x| + 1e-8`` with x's sign (sort key only).

    Non-finite values are returned unchanged (the official code would raise on them).
    """
    if x == 0 or not math.isfinite(x):
        return x
    sign = 1.0 if x > 0 else -1.0
    number = abs(x) + 1e-8
    power = math.floor(math.log(number, 10)) + 1
    return sign * round(number * 10 ** (-power), digits) * 10 ** power


def official_rank(values: Sequence[float], descending: bool, digits: int = 3) -> list[int]:
    """Ranks as the official code gives them: sort (stably) by :func:`round_to_official`, then walk the sorted
    list and add one to the rank whenever a value differs *exactly* from the one before it."""
    order = sorted(range(len(values)), key=lambda i: _nan_last(round_to_official(values[i], digits)), reverse=descending)
    ranks = [0] * len(values)
    for pos, i in enumerate(order):
        if pos:
            prev = order[pos - 1]
            same = values[i] == values[prev] or (math.isnan(values[i]) and math.isnan(values[prev]))
            ranks[i] = ranks[prev] if same else ranks[prev] + 1
    return ranks


def _nan_last(x: float) -> float:
    return -math.inf if math.isnan(x) else x


#: How ties are decided: "rounded" (values equal at ``digits`` significant digits share a dense rank) or
#: "official" (:func:`official_rank`).
TIES = ("rounded", "official")


@dataclass(frozen=True)
class Ranked:
    """One candidate (cell type, edge, op) with its score change and rank under each objective term."""

    cell_type: int
    edge: int
    op: int
    deltas: dict = field(default_factory=dict)  # term name -> mean relative change
    ranks: dict = field(default_factory=dict)  # term name -> rank (0 = pruned first)

    @property
    def rank_sum(self) -> int:
        return int(sum(self.ranks.values()))

    @property
    def d_kappa(self) -> float:
        return float(self.deltas.get("ntk", math.nan))

    @property
    def d_regions(self) -> float:
        return float(self.deltas.get("regions", math.nan))

    @property
    def kappa_rank(self) -> int:
        return int(self.ranks.get("ntk", 0))

    @property
    def regions_rank(self) -> int:
        return int(self.ranks.get("regions", 0))


def rank_objective(
    candidates: Sequence[tuple[int, int, int]],
    deltas: dict[str, Sequence[float]],
    higher_is_better: dict[str, bool],
    digits: int = 3,
    ties: str = "rounded",
) -> list[Ranked]:
    """Rank every candidate under each term and sort by the rank sum (TE-NAS' rule for any proxies).

    ``deltas[name][j]`` is the relative change ``(full - without) / |full|`` of term ``name`` when candidate
    ``j`` is removed. A term where lower is better (kappa_N) ranks large changes first (removing the op
    improves it most); a term where higher is better (R_N, most proxies) ranks small changes first (removing the
    op costs least). The list is sorted by rank sum, then by the first term's rank, then by position.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    if not deltas:
        raise ValueError("an objective needs at least one term")
    for name, values in deltas.items():
        if len(values) != len(candidates):
            raise ValueError(f"term {name!r} has {len(values)} values for {len(candidates)} candidates")
    rank = official_rank if ties == "official" else dense_rank
    ranks = {name: rank([float(v) for v in values], not higher_is_better[name], digits)
             for name, values in deltas.items()}
    first = next(iter(deltas))
    ranked = [
        Ranked(c[0], c[1], c[2], {n: float(deltas[n][j]) for n in deltas}, {n: ranks[n][j] for n in deltas})
        for j, c in enumerate(candidates)
    ]
    ranked.sort(key=lambda r: (r.rank_sum, r.ranks[first], r.cell_type, r.edge, r.op))
    return ranked


def rank_candidates(
    candidates: Sequence[tuple[int, int, int]],
    d_kappa: Sequence[float],
    d_regions: Sequence[float],
    digits: int = 3,
    ties: str = "rounded",
) -> list[Ranked]:
    """TE-NAS' ranking: d_kappa (descending) and d_regions (ascending); sorted by rank sum."""
    if not (len(candidates) == len(d_kappa) == len(d_regions)):
        raise ValueError("candidates, d_kappa and d_regions must have the same length")
    return rank_objective(candidates, {"ntk": d_kappa, "regions": d_regions}, {"ntk": False, "regions": True},
                          digits=digits, ties=ties)


def choose_prunes(ranked: Sequence[Ranked], prune_number: dict[tuple[int, int], int],
                  allowed: Callable[[list, Ranked], bool] | None = None) -> list[Ranked]:
    """On each (cell type, edge), the first ``prune_number[edge]`` candidates of the ranked list; with ``allowed``
    (``allowed(chosen so far, candidate)``, e.g. a budget), only candidates it accepts."""
    taken: dict[tuple[int, int], int] = {}
    chosen = []
    for r in ranked:
        key = (r.cell_type, r.edge)
        if taken.get(key, 0) < prune_number.get(key, 0) and (allowed is None or allowed(chosen, r)):
            taken[key] = taken.get(key, 0) + 1
            chosen.append(r)
    return chosen
