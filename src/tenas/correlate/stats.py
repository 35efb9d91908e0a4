"""Rank statistics of proxies against benchmark accuracy, TE-NAS' rank combination and ensembles.

All scores here are *oriented* (higher = predicted better), so a good proxy has positive tau and rho.

* :func:`correlation` -- Kendall tau-b and Spearman rho (``scipy.stats``) over the cells where the score
  is finite; the others are counted as failures and left out. ``kendall_tau_all`` is tau over every cell
  with failures ranked worst, for comparison (left-out failures can flatter or hurt a proxy).
* :func:`tenas_combination` -- TE-NAS' ranking: rank of -kappa_N plus rank of R_N.
* :func:`ensemble` -- combine several proxies by ranks: ``"rank"`` (sum of ranks) or ``"logrank"``
  (sum of log(rank / n), AZ-NAS' aggregation, which punishes being bad on any one proxy). In combinations
  a failed measurement (NaN, +-inf) counts as the worst rank, since on NAS-Bench-201 the failures are
  networks whose output does not depend on their input.
* :func:`select_ensemble` -- greedy forward selection of the proxies of an ensemble on *one* sample;
  what it picks must be evaluated on another (see ``tenas correlate --select-ensemble``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats


def correlation(score: np.ndarray, accuracy: np.ndarray) -> dict[str, float | int]:
    """Kendall tau-b and Spearman rho of ``score`` vs ``accuracy`` over the cells where both are finite."""
    score = np.asarray(score, dtype=np.float64)
    accuracy = np.asarray(accuracy, dtype=np.float64)
    ok = np.isfinite(score) & np.isfinite(accuracy)
    n = int(ok.sum())
    out: dict[str, float | int] = {"n": n, "failed": int(len(score) - n)}
    if n < 3 or np.ptp(score[ok]) == 0:
        out.update(kendall_tau=float("nan"), kendall_p=float("nan"), spearman_rho=float("nan"), spearman_p=float("nan"))
        return out
    tau = stats.kendalltau(score[ok], accuracy[ok])
    rho = stats.spearmanr(score[ok], accuracy[ok])
    out.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue),
               spearman_rho=float(rho.statistic), spearman_p=float(rho.pvalue))
    if n < len(score):  # also over every cell, failures ranked worst (as in the ensembles)
        acc_ok = np.isfinite(accuracy)
        out["kendall_tau_all"] = float(stats.kendalltau(ranks(score)[acc_ok], accuracy[acc_ok]).statistic)
    else:
        out["kendall_tau_all"] = out["kendall_tau"]
    return out


def top_accuracy(score: np.ndarray, accuracy: np.ndarray) -> float:
    """The accuracy of the best-scored cell (the mean over cells tied at the top); failures never win."""
    s = np.asarray(score, dtype=np.float64).copy()
    a = np.asarray(accuracy, dtype=np.float64)
    s[~np.isfinite(s)] = -np.inf
    if not len(s) or np.all(s == -np.inf):
        return float("nan")
    return float(np.mean(a[s == s.max()]))


def expected_best_of(score: np.ndarray, accuracy: np.ndarray, k: int = 100) -> float:
    """The expected accuracy of the best-scored cell of ``k`` cells drawn at random without replacement.

    Exact, no Monte Carlo: sort the cells by score; the cells tied at one score value form a group with
    ``L`` cells below it and ``m`` in it; it holds the subset's best score with probability
    ``(C(L + m, k) - C(L, k)) / C(n, k)``, and then (by symmetry) the pick is worth the group's mean accuracy.
    Failures (NaN, inf) score lowest.
    """
    from scipy.special import gammaln

    s = np.asarray(score, dtype=np.float64).copy()
    a = np.asarray(accuracy, dtype=np.float64)
    n = len(s)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..{n} (the cells scored), got {k}")
    s[~np.isfinite(s)] = -np.inf
    values, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=a) / counts
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def log_choose(m: np.ndarray) -> np.ndarray:  # log C(m, k); -inf where m < k
        m = np.asarray(m, dtype=np.float64)
        out = np.full(m.shape, -np.inf)
        ok = m >= k
        out[ok] = gammaln(m[ok] + 1) - gammaln(k + 1) - gammaln(m[ok] - k + 1)
        return out

    total = log_choose(np.array([n]))[0]
    prob = np.exp(log_choose(below + counts) - total) - np.exp(log_choose(below) - total)
    return float(np.sum(prob * means))


def ranks(score: np.ndarray) -> np.ndarray:
    """Average ranks 1..n, ascending (the best score gets n); failures (NaN, +-inf) share the lowest ranks."""
    s = np.asarray(score, dtype=np.float64).copy()
    s[~np.isfinite(s)] = -np.inf
    return stats.rankdata(s, method="average")


def tenas_combination(kappa_oriented: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """TE-NAS: rank(-kappa_N) + rank(R_N), higher = predicted better (failures rank worst)."""
    return ranks(kappa_oriented) + ranks(regions)


def ensemble(scores: Mapping[str, np.ndarray], members: Sequence[str], how: str = "logrank") -> np.ndarray:
    """Combine the oriented scores of ``members`` by ranks: ``"rank"`` (sum) or ``"logrank"`` (sum of log(r/n))."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    total = None
    for m in members:
        r = ranks(scores[m])
        part = np.log(r / len(r)) if how == "logrank" else r if how == "rank" else None
        if part is None:
            raise ValueError(f"unknown ensemble aggregation {how!r}; use 'rank' or 'logrank'")
        total = part if total is None else total + part
    return total


def parse_ensemble(text: str) -> tuple[str, str, list[str]]:
    """``"NAME=how:a+b+c"`` or ``"how:a+b+c"`` or ``"a+b+c"`` (logrank) -> (name, how, members)."""
    name, _, body = text.rpartition("=")
    how, _, members = body.rpartition(":")
    how = how or "logrank"
    parts = [m.strip() for m in members.split("+") if m.strip()]
    if not parts:
        raise ValueError(f"ensemble {text!r} has no members; write e.g. 'mine=logrank:synflow+naswot+flops'")
    return (name or f"{how}:{'+'.join(parts)}"), how, parts


def select_ensemble(scores: Mapping[str, np.ndarray], accuracy: np.ndarray, candidates: Sequence[str],
                    how: str = "logrank", max_size: int = 8) -> list[tuple[list[str], float]]:
    """Greedy forward selection maximising Kendall tau of the ensemble on *this* sample.

    Returns the path ``[(members, tau), ...]`` (one entry per size). In-sample and therefore optimistic:
    evaluate the chosen members on a different sample before quoting them.
    """
    chosen: list[str] = []
    path: list[tuple[list[str], float]] = []
    pool = [c for c in candidates if c in scores]
    while pool and len(chosen) < max_size:
        best, best_tau = None, -np.inf
        for c in pool:
            tau = correlation(ensemble(scores, chosen + [c], how), accuracy)["kendall_tau"]
            if np.isfinite(tau) and tau > best_tau:
                best, best_tau = c, tau
        if best is None:
            break
        chosen.append(best)
        pool.remove(best)
        path.append((list(chosen), float(best_tau)))
    return path
