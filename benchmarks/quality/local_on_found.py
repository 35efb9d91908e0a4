"""A local search from the architectures `benchmarks/quality/space_quality.py` found: is `tenas+` any use off NAS-Bench-201?

    .venv/bin/python benchmarks/quality/local_on_found.py --tag macro --space macro [--max-flops 60M] [--stages tenas+]

For every finished seed in runs/space_quality/<tag>/, runs the local search `tenas search --objective tenas+` (or
``--stages`` in `--local-search` form) would run after that pruning -- the same function, seed, data and budget --
and prints the start and end architecture with their CIFAR-10 accuracies. It is what the end-to-end search
gives (the local step depends only on the pruned architecture, the seed and the data).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "cifar" / "cifar10_train_10k.npz"


def main() -> None:
    from tenas.search.budget import Budget, BudgetGuard, parse_amount
    from tenas.search.local import local_search
    from tenas.search.objective import PRESETS, parse_local
    from tenas.spaces import get_space

    ap = argparse.ArgumentParser()
    ap.add_argument("--tag", required=True)
    ap.add_argument("--space", default="macro")
    ap.add_argument("--max-params", default=None)
    ap.add_argument("--max-flops", default=None)
    ap.add_argument("--stages", default="tenas+")
    args = ap.parse_args()
    space = get_space(args.space)
    stages = PRESETS[args.stages][1] if args.stages in PRESETS else parse_local(args.stages)
    budget = Budget(args.max_params and parse_amount(args.max_params), args.max_flops and parse_amount(args.max_flops))
    allowed = BudgetGuard(space, budget, 10, space.initial_alive()).allows if budget else None
    before, after = [], []
    for path in sorted((ROOT / "runs" / "space_quality" / args.tag).glob("seed*/result.json"),
                       key=lambda p: int(p.parent.name[4:])):
        res = json.loads(path.read_text())
        seed = res["config"]["seed"]
        out = local_search(res["arch"], "cifar10", str(DATA), seed, stages, space=space, num_classes=10,
                           allowed=allowed)
        a0 = res["benchmark"].get("mean_acc", res["benchmark"].get("cifar10_test"))
        b = space.benchmark(out.arch, "cifar10")
        a1 = b.get("mean_acc", b.get("cifar10_test"))
        before.append(a0)
        after.append(a1)
        cost = space.cost(out.arch, 10)
        print(f"seed {seed:2d}  {res['arch']} {a0:6.2f} -> {out.arch} {a1:6.2f}  ({cost.params / 1e6:.3f} M, "
              f"{cost.flops / 1e6:.1f} MFLOPs; {len(out.path) - 1} move(s), {out.seconds:.0f} s)", flush=True)
    sd = statistics.stdev(after) if len(after) > 1 else 0.0
    print(f"{args.tag} + {args.stages}: {statistics.mean(before):.2f} -> {statistics.mean(after):.2f} +- {sd:.2f} "
          f"over {len(after)} seeds")


if __name__ == "__main__":
    main()
