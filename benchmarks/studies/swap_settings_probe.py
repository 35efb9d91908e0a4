"""Does SWAP's network setting explain reg_swap's gap to the paper? swap on other NB201 networks, first N cells of the
CIFAR-10 seed-0 sample, against the published setting (C=3 N=1) already in its scores.csv.

    .venv/bin/python benchmarks/studies/swap_settings_probe.py 200 8     # cells, Gaussian re-initialisations per cell
"""

from __future__ import annotations

import argparse
import csv
import time

import numpy as np
import torch
from scipy import stats

SCORES = "benchmarks/results/correlate_published_2026-12-02/c10_s0/scores.csv"
VARIANTS = {"C=3 N=1 (as published, fewer re-inits)": dict(C=3, N=1),
            "thin C=3 1 cell no stem": dict(C=3, N=1, use_stem=False, depth=1),
            "C=8 N=1": dict(C=8, N=1), "C=16 N=1": dict(C=16, N=1), "C=16 N=5": dict(C=16, N=5)}


def line(name: str, values: np.ndarray, acc: np.ndarray, extra: str = "") -> str:
    return f"{name} {stats.spearmanr(values, acc).statistic:.3f} {stats.kendalltau(values, acc).statistic:.3f}{extra}"


def main() -> None:
    from tenas.correlate.presets import PUBLISHED
    from tenas.correlate.protocol import derive_seed, load_inputs
    from tenas.indicators.zoo.swap import swap
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cells", type=int)
    ap.add_argument("repeats", type=int)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(SCORES) as f:
        rows = list(csv.DictReader(f))[: args.cells]
    x = load_inputs("cifar10", "../shared/data/cifar/cifar10_train_10k.npz", 0, PUBLISHED, need_crops=False).x[:16]
    acc = np.array([float(r["cifar10_test"]) for r in rows])
    print(line("published C=3 N=1:", np.array([float(r["swap"]) for r in rows]), acc))
    for name, kw in VARIANTS.items():
        t = time.process_time()
        values = [swap(TinyNetwork([[op] for op in to_cell(int(r["index"]))], num_classes=10, **kw), x,
                       seed=derive_seed(0, int(r["index"]), "proxy"), repeats=args.repeats) for r in rows]
        print(line(name, np.array(values), acc, f" {(time.process_time() - t) / len(rows):.2f} cpu-s/cell"), flush=True)


if __name__ == "__main__":
    main()
