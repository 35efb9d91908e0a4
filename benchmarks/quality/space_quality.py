"""Search quality on any space, with or without a budget, beside the size prior (issue: any space, under a budget).

    .venv/bin/python benchmarks/quality/space_quality.py --space macro --seeds 0-9 [--max-flops 60M] [--tag default] [-- ...]

Each seed runs `tenas search --space S --dataset cifar10 --data ../shared/.../cifar10_train_10k.npz` into
runs/space_quality/<tag>/seed<k> (finished seeds are skipped: the script resumes), then prints every found
architecture's CIFAR-10 test accuracy (NB-Macro: mean of its 3 runs; NB201: 200 epochs), its cost and whether it is
within the budget, the time per search, and the size prior: the largest architecture of the space within the budget
(by the budgeted quantity; parameters without a budget), from the benchmark's table.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "cifar" / "cifar10_train_10k.npz"


def table(space_name: str):
    """(arch strings, CIFAR-10 test accuracy, params, FLOPs) of every architecture of the space's benchmark, the
    costs by the space's own cost function (NB-Macro: equal to its table's columns, a test checks it)."""
    from tenas.spaces import get_space

    space = get_space(space_name)
    archs, acc = space.benchmark_table("cifar10")
    costs = [space.cost(a, 10) for a in archs]
    return list(archs), np.asarray(acc), np.array([c.params for c in costs]), np.array([c.flops for c in costs])


def accuracy(result: dict) -> float:
    bench = result["benchmark"]
    return float(bench["mean_acc"] if "mean_acc" in bench else bench["cifar10_test"])


def size_prior(space_name: str, max_params, max_flops) -> tuple[str, float, int, int]:
    archs, acc, params, flops = table(space_name)
    ok = np.ones(len(archs), bool)
    if max_params:
        ok &= params <= max_params
    if max_flops:
        ok &= flops <= max_flops
    key = flops if (max_flops and not max_params) else params
    idx = np.flatnonzero(ok)
    best = idx[np.argmax(key[idx])]
    tied = idx[key[idx] == key[best]]
    return archs[best], float(acc[tied].mean()), int(params[best]), int(flops[best])


def main() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import seeds

    from tenas.cli import main as tenas_main
    from tenas.search.budget import parse_amount

    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="macro")
    ap.add_argument("--seeds", type=seeds, default=seeds("0-9"))
    ap.add_argument("--max-params", default=None)
    ap.add_argument("--max-flops", default=None)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--workers", default="2")
    ap.add_argument("extra", nargs="*", help="more `tenas search` arguments (after --)")
    args = ap.parse_args()
    budget = []
    if args.max_params:
        budget += ["--max-params", args.max_params]
    if args.max_flops:
        budget += ["--max-flops", args.max_flops]
    tag = args.tag or "-".join([args.space, *(b.lstrip("-") for b in budget), *args.extra]) or args.space
    from tenas.spaces import get_space

    space = get_space(args.space)
    rows = []
    for s in args.seeds:
        out = ROOT / "runs" / "space_quality" / tag / f"seed{s}"
        if not (out / "result.json").exists():
            rc = tenas_main(["search", "--space", args.space, "--dataset", "cifar10", "--data", str(DATA),
                             "--seed", str(s), "--out", str(out), "--quiet", "--workers", args.workers,
                             *budget, *args.extra])
            if rc != 0:
                raise SystemExit(rc)
        res = json.loads((out / "result.json").read_text())
        acc, cost = accuracy(res), res["cost"]
        within = (not args.max_params or cost["params"] <= parse_amount(args.max_params)) and \
                 (not args.max_flops or cost["flops"] <= parse_amount(args.max_flops))
        rows.append((s, space.canonical(res["arch"]), acc, res["seconds"], within))
        print(f"seed {s:2d}  {acc:6.2f}  {cost['params'] / 1e6:6.3f} M  {cost['flops'] / 1e6:7.2f} MFLOPs  "
              f"{'within' if within else 'OVER'}  {res['seconds']:7.1f} s  {res['arch']}", flush=True)
    accs = [r[2] for r in rows]
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    arch, prior, p, f = size_prior(args.space, args.max_params and parse_amount(args.max_params),
                                   args.max_flops and parse_amount(args.max_flops))
    print(f"{tag}: {statistics.mean(accs):.2f} +- {sd:.2f} over {len(accs)} seeds; "
          f"{sum(r[4] for r in rows)}/{len(rows)} within budget; distinct: {len({r[1] for r in rows})}; "
          f"time per search {statistics.mean(r[3] for r in rows):.0f} s "
          f"({min(r[3] for r in rows):.0f}-{max(r[3] for r in rows):.0f})")
    print(f"size prior (largest within budget): {arch} {prior:.2f} ({p / 1e6:.3f} M params, {f / 1e6:.2f} MFLOPs)")


if __name__ == "__main__":
    main()
