"""Ensembles chosen on one 1,000-cell sample and reported on others (held out): Kendall tau and the top of the ranking.

    .venv/bin/python benchmarks/quality/ensemble_heldout.py --select runs/corr/c10_s0 --report runs/corr/c10_s1 runs/corr/c100_s1

Each folder is a ``tenas correlate --out`` folder (``A,B``: two runs on the same sample with other proxies, merged) (its ``scores.csv``: every cell's raw proxy values and benchmark
accuracy; ``correlations.json`` or ``.json.gz``: the CPU seconds per cell). Greedy forward selection
(:func:`tenas.correlate.stats.select_ensemble`) runs on ``--select`` only; every step of its path and the
default ensembles of ``tenas correlate`` are then scored on each ``--report`` folder: Kendall tau, the accuracy of the best-scored cell
(top1) and the exact expected best of 100 random cells (best100), with the members' summed CPU seconds per cell.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from pathlib import Path

import numpy as np

def published() -> dict[str, tuple[str, list[str]]]:
    """The default ensembles of ``tenas correlate`` (its published aggregates among them), by name."""
    from tenas.correlate.run import DEFAULT_ENSEMBLES
    from tenas.correlate.stats import parse_ensemble

    out = {name: (how, members) for name, how, members in map(parse_ensemble, DEFAULT_ENSEMBLES)}
    out["TE-NAS"] = ("rank", ["ntk", "regions"])
    return out


def load(spec: Path, live_only: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, float], str]:
    """One sample's oriented scores, accuracies, CPU s/cell and name; ``A,B``: folders of the same sample (same
    dataset, seed and cells, other proxies) merged column by column. ``live_only``: only the cells without a
    dead op (every op on an input-to-output path; VKDNW's study scores only those, see ``flops_gap.py``)."""
    parts = [_load(Path(p)) for p in str(spec).split(",")]
    oriented, acc, cpu, name, cells = parts[0]
    for o, a, c, n, k in parts[1:]:
        if n != name or k != cells:
            raise SystemExit(f"{spec}: the folders are not the same sample ({name} vs {n})")
        oriented, cpu = {**oriented, **o}, {**cpu, **c}
    if live_only:
        from tenas.spaces.nb201 import has_dead_op

        keep = np.array([not has_dead_op(int(c)) for c in cells])
        oriented, acc = {k: v[keep] for k, v in oriented.items()}, acc[keep]
        name = name.replace(f"{len(cells)} cells", f"{int(keep.sum())} of {len(cells)} cells without a dead op")
    return oriented, acc, cpu, name


def _load(folder: Path) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, float], str, list[str]]:
    from tenas.indicators.registry import get_proxy

    with (folder / "scores.csv").open() as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    column = head[-1]
    names = head[2:-1]
    raw = {n: np.array([float(r[2 + i]) if r[2 + i] else np.nan for r in body]) for i, n in enumerate(names)}
    oriented = {n: v if get_proxy(n).higher_is_better else -v for n, v in raw.items()}
    acc = np.array([float(r[-1]) for r in body])
    path = folder / "correlations.json"
    info = json.loads(path.read_text() if path.exists() else gzip.decompress((folder / "correlations.json.gz").read_bytes()))
    cpu = {r["name"]: float(r.get("cpu_per_cell") or 0.0) for r in info["rows"] if r["kind"] == "proxy"}
    return (oriented, acc, cpu, f"{info['dataset']} seed {info['seed']} ({column}, {len(acc)} cells)",
            [r[1] for r in body])


def scores(oriented, acc, members, how) -> tuple[float, float, float]:
    from tenas.correlate import stats

    combo = stats.ensemble(oriented, members, how)
    return (stats.correlation(combo, acc)["kendall_tau"], stats.top_accuracy(combo, acc),
            stats.expected_best_of(combo, acc, min(100, len(acc))))


def main() -> None:
    from tenas.correlate import stats

    ap = argparse.ArgumentParser()
    ap.add_argument("--select", type=Path, required=True)
    ap.add_argument("--report", type=Path, nargs="+", required=True)
    ap.add_argument("--max-size", type=int, default=8)
    ap.add_argument("--live-only", action="store_true", help="only the cells without a dead op (VKDNW's sample)")
    args = ap.parse_args()
    sel, sel_acc, cpu, sel_name = load(args.select, args.live_only)
    reports = [load(p, args.live_only) for p in args.report]
    print(f"selection on {sel_name}; reported on " + "; ".join(r[3] for r in reports))
    for name, rep_acc in [(r[3], r[1]) for r in reports]:
        print(f"  for scale on {name}: best cell {np.nanmax(rep_acc):.2f}, best of 100 random cells (oracle) "
              f"{stats.expected_best_of(rep_acc, rep_acc, min(100, len(rep_acc))):.2f}, random cell {np.nanmean(rep_acc):.2f}")
    cols = "  ".join(f"{'tau':>6} {'top1':>6} {'best100':>7}" for _ in reports)
    print(f"{'in-sample':>9}  {cols}  cpu s/cell  ensemble")

    def line(label, how, members, in_sample):
        parts = []
        for oriented, acc, _, _ in reports:
            if all(m in oriented for m in members):
                parts.append("{:6.3f} {:6.2f} {:7.2f}".format(*scores(oriented, acc, members, how)))
            else:
                parts.append(f"{'-':>6} {'-':>6} {'-':>7}")
        cost = sum(cpu.get(m, float("nan")) for m in members)
        print(f"{in_sample:9.3f}  {'  '.join(parts)}  {cost:10.2f}  {label}")

    for name in sorted(sel):
        line(name, "rank", [name], stats.correlation(sel[name], sel_acc)["kendall_tau"])
    for label, (how, members) in published().items():
        if all(m in sel for m in members):
            line(f"{label} = {how}:{'+'.join(members)}", how, members, scores(sel, sel_acc, members, how)[0])
    for how in ("logrank", "rank"):
        for members, tau in stats.select_ensemble(sel, sel_acc, sorted(sel), how, max_size=args.max_size):
            line(f"{how}:{'+'.join(members)}", how, members, tau)


if __name__ == "__main__":
    main()
