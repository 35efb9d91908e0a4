"""Tables and plots of a ``tenas correlate`` result (made from the result data, never from live objects)."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CSV_COLUMNS = ("name", "kind", "n", "failed", "kendall_tau", "spearman_rho", "kendall_tau_all", "kendall_p", "spearman_p",
               "sec_per_cell", "cpu_per_cell", "top1_acc", "best_of_100")


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def format_table(result: Mapping[str, Any]) -> str:
    """The correlation table as aligned text (one line per proxy, combination and ensemble)."""
    live = " without a dead op" if result.get("live_only") else ""
    bench = result.get("benchmark", "NAS-Bench-201")
    head = (f"{bench} {result['dataset']} ({result['accuracy']}), {result['sample']} cells{live}, "
            f"seed {result['seed']}\n{result['protocol_text']}")
    lines = [head, f"{'proxy':<24} {'kind':<11} {'n':>6} {'fail':>5} {'tau':>7} {'rho':>7} {'tau_all':>7} "
                   f"{'s/cell':>7} {'cpu/cell':>8} {'top1':>6} {'best100':>7}"]
    for r in result["rows"]:
        lines.append(f"{r['name'][:24]:<24} {r['kind']:<11} {r['n']:>6} {r['failed']:>5} "
                     f"{_f(r['kendall_tau'], '7.3f')} {_f(r['spearman_rho'], '7.3f')} "
                     f"{_f(r.get('kendall_tau_all'), '7.3f')} "
                     f"{_f(r.get('sec_per_cell'), '7.3f')} {_f(r.get('cpu_per_cell'), '8.3f')} "
                     f"{_f(r.get('top1_acc'), '6.2f')} {_f(r.get('best_of_100'), '7.2f')}")

    def total(key: str) -> float:
        return sum(r[key] for r in result["rows"] if r["kind"] == "proxy" and math.isfinite(r.get(key, math.nan)))

    lines.append("tau/rho: over the cells the proxy scored (failures left out); tau_all: every cell, failures "
                 "ranked worst; s/cell: wall clock, cpu/cell: CPU time, per worker; top1: accuracy of the best-scored "
                 "cell; best100: expected accuracy of the best-scored of 100 random cells (exact)")
    if "sample_best_acc" in result:
        lines.append(f"for scale: the sample's best cell {result['sample_best_acc']:.2f}, the best of 100 random cells "
                     f"{result['oracle_best_of_100']:.2f} (an oracle), a random cell {result['sample_mean_acc']:.2f}")
    lines.append(f"sum per cell (one worker): {total('sec_per_cell'):.2f} s wall, {total('cpu_per_cell'):.2f} s CPU; "
                 f"scored now: {result['cells_scored_now']} cells in {result['wall_seconds']:.0f} s "
                 f"with {result['workers']} workers (load {result['loadavg_start'][0]:.1f} -> "
                 f"{result['loadavg_end'][0]:.1f})")
    fails = [f"{r['name']}: " + "; ".join(f"{k} x{v}" for k, v in r["errors"].items())
             for r in result["rows"] if r.get("errors")]
    if fails:
        lines.append("failures (left out of that proxy's statistics): " + " | ".join(fails))
    if "selection" in result:
        lines.append("ensemble selection on THIS sample (in-sample, optimistic: evaluate on another seed):")
        for how, path in result["selection"]["paths"].items():
            for step in path:
                lines.append(f"  tau {step['kendall_tau']:.3f}  {how}:{'+'.join(step['members'])}")
    return "\n".join(lines)


def write_csv(result: Mapping[str, Any], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in result["rows"]:
            w.writerow([r.get(c, "") if not isinstance(r.get(c), float) else f"{r[c]:.6g}" for c in CSV_COLUMNS])


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def scatter(score: np.ndarray, acc: np.ndarray, row: Mapping[str, Any], dataset: str, path: Path) -> None:
    """Score (as its rank percentile) vs accuracy; failures drawn at the left edge in grey."""
    from tenas.report.plots import _pyplot
    from scipy.stats import rankdata

    plt = _pyplot()
    ok = np.isfinite(score)
    fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=130)
    big = len(score) > 300
    if ok.any():
        pct = (rankdata(score[ok]) - 0.5) / ok.sum()
        ax.scatter(pct, acc[ok], s=6 if big else 18, alpha=0.3 if big else 0.8, color="#1f5fa8", linewidths=0,
                   rasterized=True)
    if (~ok).any():
        ax.scatter(np.full((~ok).sum(), -0.03), acc[~ok], s=7, alpha=0.5, color="#999999", marker="x",
                   linewidths=0.6, label=f"failed ({int((~ok).sum())})")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlim(-0.06, 1.02)
    oriented = " of -raw" if row.get("higher_is_better") is False else ""
    ax.set_xlabel(f"{row['name']}: rank percentile{oriented} (higher = predicted better)")
    ax.set_ylabel(f"{dataset} test accuracy (%)")
    tau, rho = row["kendall_tau"], row["spearman_rho"]
    ax.set_title(f"{row['name']}: Kendall τ = {_f(tau, '.3f')}, Spearman ρ = {_f(rho, '.3f')}  (n = {row['n']})",
                 fontsize=9)
    lo = np.nanpercentile(acc, 1) if len(acc) > 20 else np.nanmin(acc)
    ax.set_ylim(max(0.0, lo - 2), np.nanmax(acc) + 1)
    ax.grid(alpha=0.25, linewidth=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_scores(path: Path, cells: list[int], raw: Mapping[str, np.ndarray], acc: np.ndarray, column: str,
                 archs: Sequence[str] | None = None) -> None:
    """``scores.csv``: one row per cell (its string and benchmark index), every proxy's raw value (empty when it
    failed), and the benchmark accuracy the correlations are taken against -- enough to recompute the table.
    ``archs``: the strings of the cells (default: NAS-Bench-201's of their indices)."""
    if archs is None:
        from tenas.spaces.nb201 import index_to_arch

        archs = [index_to_arch(i) for i in cells]
    names = list(raw)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["cell", "index", *names, column])
        for j, index in enumerate(cells):
            values = [f"{raw[n][j]:.10g}" if math.isfinite(raw[n][j]) else "" for n in names]
            w.writerow([archs[j], index, *values, f"{acc[j]:.4f}"])


def write_outputs(result: dict[str, Any], out: Path, oriented: Mapping[str, np.ndarray],
                  combos: Mapping[str, np.ndarray], acc: np.ndarray, plots: bool = True,
                  raw: Mapping[str, np.ndarray] | None = None) -> None:
    """``correlations.csv``, ``correlations.json``, ``scores.csv`` (with ``raw``) and ``scatter_<name>.png`` in ``out``."""
    from tenas.report.results import atomic_write_json

    write_csv(result, out / "correlations.csv")
    if raw is not None:
        write_scores(out / "scores.csv", result["cells"], raw, acc, result["accuracy"], result.get("cell_archs"))
    scores = {**{k: v for k, v in oriented.items()}, **combos}
    atomic_write_json(out / "correlations.json", {**result, "accuracies": acc, "oriented_scores": dict(scores)})
    if plots:
        for row in result["rows"]:
            scatter(scores[row["name"]], acc, row, result["dataset"], out / f"scatter_{_safe(row['name'])}.png")
