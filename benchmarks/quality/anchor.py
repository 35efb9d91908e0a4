"""The anchor: the official TE-NAS code, our --protocol official and our default, side by side on the same seeds.

    ../shared/peer/run_official.sh SEED DATASET OUT > LOGDIR/DATASET_sSEED.log     # the official code, per seed
    .venv/bin/python benchmarks/quality/search_quality.py --dataset D --seeds S --tag official -- --protocol official
    .venv/bin/python benchmarks/quality/anchor.py --official-logs LOGDIR [--ours runs/quality/official]
        [--default benchmarks/results/quality_cuda_h200_faithful.json] [--extra CSV] [--out anchor.json]

Reads the found cell of every finished official log (its ``<<<--->>> End: Structure(... with CELL)`` line and
``Time spent``), of our runs, and of the default's recorded runs; looks every cell up in the NAS-Bench-201
table; prints mean ± std per (method, dataset) with the cells. ``--extra``: rows ``method,dataset,seed,cell,note``
for runs measured elsewhere (e.g. the two official CIFAR-10 runs recorded in ../shared/peer/README.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
from pathlib import Path

KEY = {"cifar10": "cifar10_test", "cifar100": "cifar100_test"}
_END = re.compile(r"End: Structure\(4 nodes with (\|.*\|)\)")
_TIME = re.compile(r"Time spent: (\d+) s")
_NAME = re.compile(r"(cifar10|cifar100)_s(\d+)\.log$")


def official_rows(folder: Path) -> list[dict]:
    rows = []
    for log in sorted(folder.glob("*.log")):
        m = _NAME.search(log.name)
        text = log.read_text(errors="replace")
        end, spent = _END.search(text), _TIME.search(text)
        if m and end:
            rows.append({"method": "official code", "dataset": m.group(1), "seed": int(m.group(2)), "arch": end.group(1),
                         "seconds": float(spent.group(1)) if spent else None, "source": str(log)})
    return rows


def ours_rows(folder: Path, method: str) -> list[dict]:
    rows = []
    for res in sorted(folder.glob("*/seed*/result.json")):
        r = json.loads(res.read_text())
        rows.append({"method": method, "dataset": res.parent.parent.name, "seed": int(res.parent.name[4:]),
                     "arch": r["arch"], "seconds": r["seconds"], "source": str(res)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--official-logs", type=Path, required=True)
    ap.add_argument("--ours", type=Path, default=Path("runs/quality/official"))
    ap.add_argument("--default", type=Path, default=Path("benchmarks/results/quality_cuda_h200_faithful.json"))
    ap.add_argument("--extra", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from tenas.bench.nb201 import lookup

    rows = official_rows(args.official_logs)
    if args.extra:
        with args.extra.open() as f:
            rows += [{"method": r["method"], "dataset": r["dataset"], "seed": int(r["seed"]), "arch": r["cell"],
                      "seconds": None, "source": r["note"]} for r in csv.DictReader(f)]
    if args.ours.is_dir():
        rows += ours_rows(args.ours, "ours --protocol official")
    if args.default.exists():
        rows += [{"method": "ours default (paper)", "dataset": r["dataset"], "seed": r["seed"], "arch": r["arch"],
                  "seconds": r["seconds"], "source": str(args.default)} for r in json.loads(args.default.read_text())]
    for r in rows:
        b = lookup(r["arch"]).to_dict()
        r["index"], r["accuracy"] = b["index"], b[KEY[r["dataset"]]]
    for dataset in KEY:
        print(f"== {dataset} (NAS-Bench-201 test accuracy of the found cell)")
        for method in ("official code", "ours --protocol official", "ours default (paper)"):
            sel = sorted((r for r in rows if r["dataset"] == dataset and r["method"] == method), key=lambda r: r["seed"])
            if not sel:
                continue
            accs = [r["accuracy"] for r in sel]
            sd = statistics.stdev(accs) if len(accs) > 1 else float("nan")
            cells = ", ".join(f"s{r['seed']} #{r['index']} {r['accuracy']:.2f}" for r in sel)
            print(f"  {method:26s} {statistics.mean(accs):6.2f} ± {sd:4.2f} (n={len(sel)})  {cells}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
