"""Drawings of DARTS cells (normal and reduction) from a genotype, as one PNG."""

from __future__ import annotations

import os
from pathlib import Path

_COLORS = {
    "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "dil_conv_3x3": "#9467bd", "dil_conv_5x5": "#e377c2",
    "max_pool_3x3": "#d62728", "avg_pool_3x3": "#ff7f0e", "skip_connect": "#2ca02c", "none": "#7f7f7f",
}


def _draw_cell(ax, pairs, concat, title: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    steps = len(pairs) // 2
    pos = {0: (0.0, 0.75), 1: (0.0, 0.25)}
    for i in range(steps):
        pos[i + 2] = (1.0 + i, 0.9 - 0.8 * i / max(1, steps - 1))
    out = (steps + 1.2, 0.5)
    names = {0: "c$_{k-2}$", 1: "c$_{k-1}$"}
    for k, (op, src) in enumerate(pairs):
        dst = k // 2 + 2
        (x0, y0), (x1, y1) = pos[src], pos[dst]
        rad = 0.25 if (dst - src) > 1 else 0.0
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", color=_COLORS.get(op, "k"), lw=1.8,
                    shrinkA=14, shrinkB=14, connectionstyle=f"arc3,rad={rad}"))
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + (0.06 if rad else 0.03), op, fontsize=7, ha="center",
                color=_COLORS.get(op, "k"), bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    for node in concat:
        x0, y0 = pos[node]
        ax.annotate("", out, (x0, y0), arrowprops=dict(arrowstyle="-|>", color="#bbbbbb", lw=1, shrinkA=14, shrinkB=16))
    for node, (x, y) in pos.items():
        color = "#fdebd0" if node < 2 else "#d6eaf8"
        ax.add_patch(FancyBboxPatch((x - 0.17, y - 0.06), 0.34, 0.12, boxstyle="round,pad=0.02", fc=color, ec="#555555"))
        ax.text(x, y, names.get(node, str(node - 2)), ha="center", va="center", fontsize=9)
    ax.add_patch(FancyBboxPatch((out[0] - 0.17, out[1] - 0.06), 0.34, 0.12, boxstyle="round,pad=0.02", fc="#d5f5e3",
                                ec="#555555"))
    ax.text(*out, "c$_k$", ha="center", va="center", fontsize=9)
    ax.set_xlim(-0.4, out[0] + 0.4)
    ax.set_ylim(-0.15, 1.05)
    ax.set_title(title, fontsize=11)
    ax.axis("off")


def plot_darts_cells(genotype, path: str | os.PathLike) -> Path:
    """Both cells of a DARTS genotype (normal above, reduction below), saved as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from tenas.spaces.genotypes import to_genotype

    g = to_genotype(genotype)
    fig, axes = plt.subplots(2, 1, figsize=(9, 7))
    _draw_cell(axes[0], g.normal, g.normal_concat, "normal cell")
    _draw_cell(axes[1], g.reduce, g.reduce_concat, "reduction cell")
    path = Path(path)
    fig.savefig(path, dpi=140, bbox_inches="tight")
    plt.close(fig)
    return path
