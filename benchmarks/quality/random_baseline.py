"""Random sampling with TE-NAS' own proxies, the baseline beside `benchmarks/quality/space_quality.py`.

    .venv/bin/python benchmarks/quality/random_baseline.py --space macro [--max-flops 60M] --pool 150 --n 42 --draws 10

A pool of ``--pool`` architectures is drawn uniformly from those of the space's benchmark table within the budget
(canonical strings; seed ``--seed``). Each is measured as a search measures a network -- kappa_N on the space's NTK
network and R_N on its region network, both with the architecture's one-op-per-choice-point mask, 3 repeats with
the paper protocol's Kaiming weights, NTK batch and crops of (round 0, repeat) of the CIFAR-10 10k split -- through
the same worker code (`tenas.search.measure.score_masks`). Then, ``--draws`` times (draw k uses seed k, like the
searches' seeds), ``--n`` architectures are taken from the pool without replacement and the one with the best
TE-NAS rank sum (rank of kappa ascending + rank of R descending, as the pruning ranks) is kept: the script prints
each draw's choice and accuracy, and the mean. ``--n`` is the number of networks a search measures (NB-Macro: the
supernet and its 24 + 16 candidates, 2 rounds, +2 supernet measurements = 42; NB201: 3 rounds 25 + 19 + 13 = 57),
so a draw costs what a search costs in measurements (fewer FLOPs: single-path networks are smaller than supernets).
Scores are cached in runs/random_baseline/<tag>/pool.json (the script resumes).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "cifar" / "cifar10_train_10k.npz"


def main() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from quality.space_quality import table

    from tenas.data import load_dataset
    from tenas.parallel.local import LocalPool
    from tenas.search.budget import parse_amount
    from tenas.search.inputs import InputSource, derive_seed
    from tenas.search.measure import score_masks
    from tenas.search.prune import SearchConfig
    from tenas.spaces import get_space, space_spec
    from scipy.stats import rankdata

    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="macro")
    ap.add_argument("--max-params", default=None)
    ap.add_argument("--max-flops", default=None)
    ap.add_argument("--pool", type=int, default=150)
    ap.add_argument("--n", type=int, default=42)
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    space = get_space(args.space)
    archs, acc, params, flops = table(args.space)
    ok = np.ones(len(archs), bool)
    if args.max_params:
        ok &= params <= parse_amount(args.max_params)
    if args.max_flops:
        ok &= flops <= parse_amount(args.max_flops)
    canon = {}
    for i in np.flatnonzero(ok):
        canon.setdefault(space.canonical(archs[i]), i)
    names = sorted(canon)
    rng = np.random.default_rng(args.seed)
    pool = [names[i] for i in sorted(rng.choice(len(names), size=min(args.pool, len(names)), replace=False))]
    tag = "-".join([args.space] + [f"{k}{v}" for k, v in (("params", args.max_params), ("flops", args.max_flops)) if v])
    out = ROOT / "runs" / "random_baseline" / tag
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "pool.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    config = SearchConfig(space=args.space, seed=args.seed, batch_size=space.defaults.batch_for("cifar10"))
    source = InputSource(load_dataset("cifar10", str(DATA), split="train"), config)
    todo = [a for a in pool if a not in cache]
    tasks = []
    for r in range(config.repeats):
        for start in range(0, len(todo), 4):
            tasks.append({"space": space_spec(space), "space_options": space.options(), "num_classes": 10,
                          "ntk_init": ("kaiming", derive_seed(args.seed, 0, r, "ntk_init")),
                          "region_init": ("kaiming", derive_seed(args.seed, 0, r, "region_init")),
                          "batch": source.batch(0, r), "crops": source.crops(0, r), "region_batch": 1000,
                          "kappa": "exact", "device": "cpu", "repeat": r, "archs": todo[start:start + 4],
                          "masks": [space.to_mask(a).tolist() for a in todo[start:start + 4]]})
    got: dict = {}
    with LocalPool(args.workers) as workers:
        for i, res in workers.run(score_masks, tasks):
            for a, k, reg in zip(tasks[i]["archs"], res["kappa"], res["regions"]):
                got.setdefault(a, {})[tasks[i]["repeat"]] = (k, reg)
                if len(got[a]) == config.repeats:
                    ks = [got[a][r][0] for r in range(config.repeats)]
                    cache[a] = {"kappa": float(np.mean(ks)) if np.isfinite(ks).all() else float("inf"),
                                "regions": float(np.mean([got[a][r][1] for r in range(config.repeats)]))}
                    cache_path.write_text(json.dumps(cache, indent=1))
    acc_of = {a: float(acc[canon[a]]) for a in pool}
    print(f"{tag}: pool of {len(pool)} of {len(names)} canonical architectures within the budget; best of {args.n}, "
          f"{args.draws} draws; pool mean accuracy {statistics.mean(acc_of.values()):.2f}")
    picked = []
    for d in range(args.draws):
        sub = list(np.random.default_rng(1000 + d).choice(pool, size=min(args.n, len(pool)), replace=False))
        kappa = np.array([cache[a]["kappa"] for a in sub])
        regions = np.array([cache[a]["regions"] for a in sub])
        score = rankdata(kappa, method="min") + rankdata(-regions, method="min")
        best = sub[int(np.argmin(score))]
        picked.append(acc_of[best])
        print(f"draw {d:2d}  {acc_of[best]:6.2f}  {best}")
    sd = statistics.stdev(picked) if len(picked) > 1 else 0.0
    print(f"random best-of-{args.n} by TE-NAS rank sum: {statistics.mean(picked):.2f} +- {sd:.2f} over {len(picked)} draws")


if __name__ == "__main__":
    main()
