"""Plots made from result data (never from live objects), so a finished run can be re-plotted."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _fmt_round(rec: dict) -> str:
    ops = [f"{p['edge_label']}: −{p['op'].replace('nor_conv_', 'conv').replace('_3x3', '')}" for p in rec["pruned"]]
    return "\n".join(ops)


def _spread(ax, x, repeats, color) -> None:
    """A vertical bar per stage from the smallest to the largest finite repeat."""
    for xi, values in zip(x, repeats):
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if len(finite) > 1:
            ax.vlines(xi, min(finite), max(finite), color=color, alpha=0.35, lw=6)


def plot_trajectory(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """κ_N and R_N of the supernet after each pruning round (the TE-NAS search path), saved as PNG.

    With ``result["stages"]`` (every stage measured with the same weights and inputs) each point is the mean
    over repeats and the bar spans the repeats' range; older results fall back to each round's own values.
    """
    plt = _pyplot()
    rounds = result["rounds"]
    stages = result.get("stages")
    if stages:
        kappa = [st["kappa"] for st in stages]
        regions = [st["regions"] for st in stages]
        k_rep = [st["kappa_repeats"] for st in stages]
        r_rep = [st["regions_repeats"] for st in stages]
    else:
        kappa = [r["supernet_kappa"] for r in rounds] + [result["final"]["kappa"]]
        regions = [r["supernet_regions"] for r in rounds] + [result["final"]["regions"]]
        k_rep = r_rep = None
    x = list(range(len(kappa)))
    labels = ["supernet"] + [f"after {i + 1}" for i in range(len(rounds) - 1)] + ["found cell"]
    if stages and len(stages) == len(rounds) + 2:  # the local step moved the cell
        labels.append("local step")

    fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.2), sharex=True, gridspec_kw={"hspace": 0.08})
    ax_k, ax_r = axes
    finite_k = [k if math.isfinite(k) else float("nan") for k in kappa]
    ax_k.plot(x, finite_k, "o-", color="#c0392b", lw=2.2, ms=7)
    if k_rep is not None:
        _spread(ax_k, x, k_rep, "#c0392b")
        _spread(ax_r, x, r_rep, "#2471a3")
    ax_k.set_yscale("log")
    ax_k.set_ylabel("κ$_N$  (NTK condition number)\nlower = more trainable")
    ax_r.plot(x, regions, "s-", color="#2471a3", lw=2.2, ms=7)
    ax_r.set_ylabel("R$_N$  (linear regions)\nhigher = more expressive")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.25)
        ax.spines[["top", "right"]].set_visible(False)
    for i, k in enumerate(finite_k):
        if math.isfinite(k):
            ax_k.annotate(f"{k:,.0f}", (i, k), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    for i, r in enumerate(regions):
        ax_r.annotate(f"{r:,.0f}", (i, r), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    for i, rec in enumerate(rounds):
        txt = _fmt_round(rec)
        if txt and len(rec["pruned"]) <= 8:
            ax_r.annotate(txt, (i + 0.5, 0.02), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                          fontsize=6.5, color="#555555")
    ax_r.set_xticks(x, labels)
    ax_r.set_xlabel("pruning round")
    cfg = result.get("config", {})
    title = f"TE-NAS search path — {cfg.get('space', '')} / {cfg.get('dataset', '')}, seed {cfg.get('seed', '')}"
    if stages:
        ax_r.set_xlabel(f"pruning round  (every stage measured on the same weights and inputs; "
                        f"bars: range over {len(k_rep[0])} repeats)")
    fig.suptitle(title, fontsize=11, y=0.98)
    arch = result.get("arch", "")
    if arch and len(arch) < 110:
        fig.text(0.5, 0.925, arch, ha="center", fontsize=7.5, family="monospace", color="#333333")
    path = Path(path)
    fig.savefig(path, dpi=140, bbox_inches="tight")
    plt.close(fig)
    return path
