"""The local step (tenas.search.local) applied to cells a search found: accuracy before and after, per seed.

    .venv/bin/python benchmarks/studies/local_step.py --found benchmarks/results/quality_cuda_h200_faithful.json \
        --dataset cifar10 --seeds 0-9 [--steps 3] [--members naswot+jacob_cov+flops+synflow+ntk] [--how logrank]
    .venv/bin/python benchmarks/studies/local_step.py --found ... --dataset cifar10 --seeds 0-9 --objective tenas+

``--objective``: the local search of a ``tenas search --objective`` preset (all its stages), instead of one stage
given by ``--members`` / ``--steps`` / ``--protocol``.

``--found``: a JSON list of {dataset, seed, arch} (as benchmarks/quality/search_quality.py's runs give) or a folder
``runs/quality/TAG`` with DATASET/seedS/result.json. The local step is scored with the search's own seed on the
same training data (../shared/data/cifar/*_train_10k.npz), so the result is what `tenas search ... --objective
tenas+` would end with given that found cell.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _common
from _common import seeds as _seeds  # noqa: E402  (the seed-list syntax of the quality scripts)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar"
DATA = {"cifar10": "cifar10_train_10k.npz", "cifar100": "cifar100_train_10k.npz"}
KEY = {"cifar10": "cifar10_test", "cifar100": "cifar100_test"}


def _found(path: Path, dataset: str) -> dict[int, str]:
    if path.is_dir():
        return {int(p.parent.name[4:]): json.loads(p.read_text())["arch"]
                for p in sorted((path / dataset).glob("seed*/result.json"))}
    return {r["seed"]: r["arch"] for r in json.loads(path.read_text()) if r["dataset"] == dataset}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--found", type=Path, required=True)
    ap.add_argument("--dataset", default="cifar10", choices=sorted(DATA))
    ap.add_argument("--seeds", type=_seeds, default=_seeds("0-9"))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--members", default="naswot+jacob_cov+flops+synflow+ntk",
                    help="proxies joined by '+' (tenas+ uses synflow with --steps 6)")
    ap.add_argument("--how", default="logrank", choices=("logrank", "rank"))
    ap.add_argument("--protocol", default="fast", choices=("fast", "published"),
                    help="the scoring protocol of the proxies (tenas+ uses fast)")
    ap.add_argument("--objective", default=None, help="a preset's stages (e.g. tenas+) instead of the options above")
    ap.add_argument("--out", type=Path, default=None, help="write every seed's record (JSON)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from tenas.bench.nb201 import lookup
    from tenas.search.local import Stage, local_search
    from tenas.search.objective import parse_objective

    found = _found(args.found, args.dataset)
    if args.objective:
        stages = parse_objective(args.objective).local
        if not stages:
            raise SystemExit(f"--objective {args.objective} has no local search")
    else:
        stages = (Stage(tuple(args.members.split("+")), args.steps, args.protocol, args.how),)
    print(f"local search on {args.dataset}: " + "; then ".join(st.describe() for st in stages), flush=True)
    rows, records = [], []
    for s in args.seeds:
        if s not in found:
            print(f"seed {s}: no found cell in {args.found}")
            continue
        res = local_search(found[s], args.dataset, str(SHARED / DATA[args.dataset]), s, stages)
        before = lookup(res.start).to_dict()[KEY[args.dataset]]
        after = lookup(res.arch).to_dict()[KEY[args.dataset]]
        rows.append((before, after, res.seconds))
        records.append({"seed": s, **res.to_dict(), "before": before, "after": after})
        cells = sum(len(r.scores) for _, r in res.stages)
        print(f"seed {s:2d}  {before:6.2f} -> {after:6.2f}  ({len(res.path) - 1} moves, {cells} cells, "
              f"{res.seconds:5.1f} s)  {res.arch}", flush=True)
    b, a = [r[0] for r in rows], [r[1] for r in rows]
    sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
    print(f"{args.dataset}: before {statistics.mean(b):.2f} ± {sd(b):.2f}, after {statistics.mean(a):.2f} ± {sd(a):.2f} "
          f"over {len(rows)} seeds; mean {statistics.mean(r[2] for r in rows):.0f} s per local step")
    if args.out:
        args.out.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
