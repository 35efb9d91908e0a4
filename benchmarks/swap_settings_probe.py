"""Does SWAP's network setting explain reg_swap's gap to the paper? swap on other NB201 networks, first N cells of the
CIFAR-10 seed-0 sample, against the published setting (C=3 N=1) already in its scores.csv.

    .venv/bin/python benchmarks/swap_settings_probe.py 200 8     # cells, Gaussian re-initialisations per cell
"""
import csv, sys, time, numpy as np, torch
from scipy import stats
torch.set_num_threads(1)
from tenas.correlate.presets import PUBLISHED
from tenas.correlate.protocol import load_inputs, derive_seed
from tenas.indicators.zoo.swap import swap
from tenas.spaces.nb201 import TinyNetwork, to_cell
rows = list(csv.DictReader(open("benchmarks/results/correlate_published_2026-12-02/c10_s0/scores.csv")))[: int(sys.argv[1])]
inp = load_inputs("cifar10", "../shared/data/cifar/cifar10_train_10k.npz", 0, PUBLISHED, need_crops=False)
x = inp.x[:16]
acc = np.array([float(r["cifar10_test"]) for r in rows])
base = np.array([float(r["swap"]) for r in rows])
print("published C=3 N=1:", round(stats.spearmanr(base, acc).statistic, 3), round(stats.kendalltau(base, acc).statistic, 3))
variants = {"C=3 N=1 (as published, fewer re-inits)": dict(C=3, N=1), "thin C=3 1 cell no stem": dict(C=3, N=1, use_stem=False, depth=1),
            "C=8 N=1": dict(C=8, N=1), "C=16 N=1": dict(C=16, N=1), "C=16 N=5": dict(C=16, N=5)}
for name, kw in variants.items():
    t = time.process_time(); vals = []
    for r in rows:
        cell = to_cell(int(r["index"]))
        net = TinyNetwork([[op] for op in cell], num_classes=10, **kw)
        vals.append(swap(net, x, seed=derive_seed(0, int(r["index"]), "proxy"), repeats=int(sys.argv[2])))
    v = np.array(vals)
    print(name, round(stats.spearmanr(v, acc).statistic, 3), round(stats.kendalltau(v, acc).statistic, 3),
          f"{(time.process_time()-t)/len(rows):.2f} cpu-s/cell", flush=True)
