"""Local processes vs Ray, same worker count: wall time of whole commands, and whether the numbers agree.

    .venv/bin/python benchmarks/speed/bench_ray.py [--workers 2] [--sample 200] [--proxies all] [--search-small]

Runs, each as its own ``tenas`` process (so Ray's start-up is in its wall time, as a user sees it):
``tenas correlate --sample N`` and one NAS-Bench-201 ``tenas search``, each with ``--backend local`` and
``--backend ray`` and the same seed, then checks that the scores are bitwise equal (correlate: every
(cell, proxy) row of the cache; search: the cell, every candidate's kappa and R of every round, the final
network's). Prints the load average with the figures: on a shared machine they move with it.
``--search-small`` uses the tests' settings (1 repeat, batch 8, 300 crops) instead of the paper's.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(argv: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tenas", *argv], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"tenas {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def _cache_rows(out: Path) -> list:
    with sqlite3.connect(str(out / "scores.sqlite")) as db:
        return sorted(db.execute("SELECT cell, proxy, raw, error FROM scores").fetchall())


def _search_numbers(out: Path) -> str:
    r = json.loads((out / "result.json").read_text())
    return json.dumps([r["arch"], r["rounds"], r["final"]], sort_keys=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=200, help="correlate: cells (0: skip correlate)")
    ap.add_argument("--proxies", default="all", help="correlate: proxies (default all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None, help="dataset for both commands (default: the embedded sample)")
    ap.add_argument("--search-small", action="store_true", help="search with 1 repeat, batch 8, 300 crops")
    ap.add_argument("--no-search", action="store_true")
    args = ap.parse_args()

    common = ["--workers", str(args.workers), "--seed", str(args.seed), "--quiet"]
    if args.data:
        common += ["--data", args.data]
    rows = []
    print(f"machine: {os.cpu_count()} cores; workers {args.workers}; load at start {os.getloadavg()[0]:.2f}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.sample > 0:
            walls, numbers = {}, {}
            for backend in ("local", "ray"):
                out = tmp / f"correlate-{backend}"
                load = os.getloadavg()[0]
                walls[backend] = _run(["correlate", "--sample", str(args.sample), "--proxies", args.proxies,
                                       "--out", str(out), "--no-plots", "--backend", backend, *common])
                numbers[backend] = _cache_rows(out)
                print(f"  correlate {backend:<5} {walls[backend]:7.1f} s  (load {load:.2f} -> {os.getloadavg()[0]:.2f})",
                      flush=True)
            differ = sorted({a[1] for a, b in zip(numbers["local"], numbers["ray"]) if a != b})
            rows.append((f"correlate --sample {args.sample} --proxies {args.proxies}", walls,
                         numbers["local"] == numbers["ray"], f"{len(numbers['ray'])} (cell, proxy) rows"
                         + (f"; differ: {', '.join(differ)}" if differ else "")))
            print(f"  correlate bitwise equal: {'yes' if rows[-1][2] else 'NO'}  ({rows[-1][3]})", flush=True)
        if not args.no_search:
            small = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300"] if args.search_small else []
            walls, numbers = {}, {}
            for backend in ("local", "ray"):
                out = tmp / f"search-{backend}"
                load = os.getloadavg()[0]
                walls[backend] = _run(["search", "--space", "nb201", "--out", str(out), "--backend", backend,
                                       *small, *common])
                numbers[backend] = _search_numbers(out)
                print(f"  search    {backend:<5} {walls[backend]:7.1f} s  (load {load:.2f} -> {os.getloadavg()[0]:.2f})",
                      flush=True)
            arch = json.loads(numbers["ray"])[0]
            rows.append(("search nb201" + (" (small)" if args.search_small else ""), walls,
                         numbers["local"] == numbers["ray"], arch))
            print(f"  search bitwise equal: {'yes' if rows[-1][2] else 'NO'}  ({arch})", flush=True)
    print(f"{'command':<48} {'local s':>8} {'ray s':>8} {'ray/local':>9}  bitwise equal")
    for name, walls, equal, what in rows:
        print(f"{name:<48} {walls['local']:8.1f} {walls['ray']:8.1f} {walls['ray'] / walls['local']:9.2f}  "
              f"{'yes' if equal else 'NO'}  ({what})")
    print(f"load at end {os.getloadavg()[0]:.2f}")
    if not all(equal for _, _, equal, _ in rows):
        sys.exit("the backends disagree")


if __name__ == "__main__":
    main()
