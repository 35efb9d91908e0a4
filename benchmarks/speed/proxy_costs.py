"""The cost of every proxy on ``--protocol published``, from 1,000-cell ``tenas correlate`` runs already made.

    .venv/bin/python benchmarks/speed/proxy_costs.py benchmarks/results/correlate_published_2026-12-02/c10_s0*

Each folder's ``correlations.json(.gz)`` records every proxy's CPU seconds per cell (the worker's process time,
which other jobs on the machine do not inflate much) and the run's wall time. Printed per proxy: CPU s/cell, its
Kendall tau, the folder it comes from, and a flag where it costs more than the issue's ~1 CPU-s budget. Then the
sum: one cell with every proxy on one core, and what 1,000 cells take on 2 workers. A proxy scored in several
folders is reported from the first one given.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

BUDGET = 1.0  # CPU seconds per cell (issue 13)


def rows(folder: Path) -> tuple[dict, list[dict]]:
    path = folder / "correlations.json"
    info = json.loads(path.read_text() if path.exists() else gzip.decompress((folder / "correlations.json.gz").read_bytes()))
    return info, [r for r in info["rows"] if r["kind"] == "proxy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    args = ap.parse_args()
    seen: dict[str, tuple[float, float, str]] = {}
    walls = []
    for folder in args.folders:
        info, proxies = rows(folder)
        walls.append((folder.name, info["cells_scored_now"], info["wall_seconds"], info["workers"],
                      info["dataset"], info["seed"], info["protocol"]["name"]))
        for r in proxies:
            seen.setdefault(r["name"], (float(r.get("cpu_per_cell") or 0.0), float(r["kendall_tau"]), folder.name))
    print("runs:")
    for name, n, wall, workers, dataset, seed, protocol in walls:
        print(f"  {name}: {dataset} seed {seed}, protocol {protocol}, {n} cells scored in {wall:.0f} s on {workers} workers")
    print(f"\n{'proxy':18s} {'cpu s/cell':>10s} {'tau':>7s}  from")
    for name, (cpu, tau, where) in sorted(seen.items(), key=lambda kv: -kv[1][0]):
        flag = "  > budget" if cpu > BUDGET else ""
        print(f"{name:18s} {cpu:10.3f} {tau:7.3f}  {where}{flag}")
    total = sum(c for c, _, _ in seen.values())
    print(f"\nevery proxy above on one cell, one core: {total:.2f} CPU s; 1,000 cells on 2 workers: "
          f"~{total * 1000 / 2 / 60:.0f} min of CPU time per worker")


if __name__ == "__main__":
    main()
