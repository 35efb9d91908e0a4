"""Search quality: run TE-NAS on NAS-Bench-201 for several seeds and report the found cells' accuracy.

    .venv/bin/python benchmarks/quality/search_quality.py --dataset cifar10 --seeds 0-9 [--repeats 3] [--tag faithful]

Each seed runs `tenas search` into runs/quality/<tag>/<dataset>/seed<k> (finished seeds are skipped, so
the script resumes), then prints every cell and the mean ± std of its benchmark test accuracy on the
dataset searched. Extra arguments after `--` go to `tenas search`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/, for _common
from _common import seeds  # noqa: E402

KEY = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}
DATA = {"cifar10": "cifar10_train_10k.npz", "cifar100": "cifar100_train_10k.npz"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="cifar10", choices=sorted(KEY))
    ap.add_argument("--seeds", type=seeds, default=seeds("0-9"))
    ap.add_argument("--tag", default="faithful")
    ap.add_argument("--data", default=None)
    ap.add_argument("extra", nargs="*", help="more `tenas search` arguments (after --)")
    args = ap.parse_args()
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar"
    data = args.data or str(shared / DATA[args.dataset])

    from tenas.cli import main as tenas_main

    rows = []
    for s in args.seeds:
        out = Path("runs/quality") / args.tag / args.dataset / f"seed{s}"
        if not (out / "result.json").exists():
            rc = tenas_main(["search", "--dataset", args.dataset, "--data", data, "--seed", str(s),
                             "--out", str(out), "--quiet", *args.extra])
            if rc != 0:
                raise SystemExit(rc)
        res = json.loads((out / "result.json").read_text())
        acc = res["benchmark"][KEY[args.dataset]]
        rows.append((s, res["arch"], acc, res["seconds"]))
        print(f"seed {s:3d}  {acc:6.2f}  {res['seconds']:6.1f}s  {res['arch']}", flush=True)
    accs = [r[2] for r in rows]
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"{args.tag} {args.dataset}: {statistics.mean(accs):.2f} ± {sd:.2f} over {len(accs)} seeds "
          f"(distinct cells: {len({r[1] for r in rows})}; mean search time {statistics.mean(r[3] for r in rows):.0f} s)")


if __name__ == "__main__":
    main()
