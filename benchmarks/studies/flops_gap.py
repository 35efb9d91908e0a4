"""Why FLOPs / #params give Kendall tau ~0.56 here and 0.623 in VKDNW's study (Tybl & Neumann, CVPR 2025).

    .venv/bin/python benchmarks/studies/flops_gap.py

The three suspects the proxy issue names, each measured, then the one that explains it:
* the sample: tau over all 15,625 cells and over 1,000-cell samples;
* test vs validation accuracy: every accuracy column of ../shared/data/nb201/nb201_accuracy.csv;
* the cell subset: VKDNW's NB201 analysis (ondratybl/VKDNW, NB201/tss_analyze.py) keeps, with
  ``compute_graf=True``, only the cells that have GRAF graph features (``run['net'].notnull()``); we test the
  subset of cells whose every operation lies on an input -> output path (no dead op).
(The benchmark version cannot be tested here: only the NATS-Bench table is on disk.)

FLOPs and #params of the benchmark network (C=16, N=5) are exact linear functions of the numbers of 3x3 and 1x1
convolutions in the cell (our counter gives 0 FLOPs to pooling and skips); the script fits the coefficients on 12
cells with ``tenas.spaces.flops.count_flops`` and checks them on 12 others before using them for all cells.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau

from tenas.spaces.nb201 import has_dead_op

TABLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201" / "nb201_accuracy.csv"
COLUMNS = ["cifar10_test", "cifar10_valid_valid", "cifar10_valid_test", "cifar100_test", "imagenet16_120_test"]


def counts(cell) -> list[float]:
    return [sum(o == "nor_conv_3x3" for o in cell), sum(o == "nor_conv_1x1" for o in cell), 1.0]


def main() -> None:
    torch.set_num_threads(1)
    from tenas.correlate.run import sample_cells
    from tenas.spaces.flops import count_flops
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    rows = list(csv.DictReader(TABLE.open()))
    cells = [to_cell(r["arch"]) for r in rows]

    def exact(cell):
        net = TinyNetwork([[o] for o in cell], C=16, N=5, num_classes=10)
        return count_flops(net), sum(p.numel() for p in net.parameters())

    rng = random.Random(0)
    fit, check = rng.sample(range(len(rows)), 12), rng.sample(range(len(rows)), 12)
    coef, *_ = np.linalg.lstsq(np.array([counts(cells[i]) for i in fit]), np.array([exact(cells[i]) for i in fit]),
                               rcond=None)
    worst = max(float(np.max(np.abs(np.array(counts(cells[i])) @ coef - np.array(exact(cells[i])))
                             / np.array(exact(cells[i])))) for i in check)
    assert worst < 1e-9, worst
    print(f"FLOPs = {coef[0, 0]:.4g} M x n3x3 + {coef[1, 0]:.4g} M x n1x1 + {coef[2, 0]:.4g} M; params = "
          f"{coef[0, 1]:.0f} x n3x3 + {coef[1, 1]:.0f} x n1x1 + {coef[2, 1]:.0f} "
          f"(checked on 12 other cells: max relative error {worst:.1e})")
    values = np.array([counts(c) for c in cells]) @ coef
    flops, params = values[:, 0], values[:, 1]
    acc = {c: np.array([float(r[c]) for r in rows]) for c in COLUMNS}

    def line(label, idx):
        f = "  ".join(f"{c} {kendalltau(flops[idx], acc[c][idx])[0]:.3f}" for c in COLUMNS)
        p = kendalltau(params[idx], acc["cifar10_test"][idx])[0]
        print(f"{label:48s} n={len(idx):5d}  FLOPs tau: {f}  | params tau (cifar10_test) {p:.3f}")

    everything = np.arange(len(rows))
    line("all cells", everything)
    for seed in (0, 1, 2):
        line(f"1,000 random cells (numpy default_rng({seed}))", np.random.default_rng(seed).choice(len(rows), 1000, replace=False))
    line("tenas correlate --sample 1000 --seed 0", np.asarray(sample_cells(1000, 0)))
    live = np.array([not has_dead_op(c) for c in cells])
    line("cells without a dead op", everything[live])
    print("VKDNW's study (CVPR 2025, NB201 CIFAR-10 table): FLOPs 0.623")


if __name__ == "__main__":
    main()
