"""The DARTS search side by side: the official TE-NAS code, our default and our ``--protocol official``.

    .venv/bin/python benchmarks/quality/darts_search_pair.py --seeds 0-1 [--which official,paper,official-protocol]
    .venv/bin/python benchmarks/quality/darts_search_pair.py --seeds 0-1 --report     # only read what finished

Each (which, seed) runs into runs/darts_pair/<which>/seed<k> and is skipped when it has finished, so the script
resumes:
- ``official``: ``PEER_SPACE=darts ../shared/peer/run_official.sh SEED cifar10 OUT`` (the official launcher's
  DARTS settings: batch 14, prune 3 per edge, then 2 input edges per node), its log in OUT/log.txt, its wall time
  in OUT/seconds.txt; the found genotype is the log's ``End:`` line, the ops alive after every round its
  ``arch_parameters_history.npy``;
- ``paper`` / ``official-protocol``: ``tenas search --space darts`` with ``--protocol paper`` (our default) or
  ``official``, on the same data (``cifar10_train_10k.npz``).

Run it alone on the machine: the time ratio official / ours is only meaningful back to back on idle cores.
It prints, per run: the genotype, the ops alive per round (count of each op type over both cells), the count of
each op type in the final cells and the wall time; then per group the mean op counts and the time ratio.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "cifar" / "cifar10_train_10k.npz"
OUT = ROOT / "runs" / "darts_pair"
#: the official code's op order (lib/models/cell_operations.py DARTS_SPACE): the columns of its alphas
OFFICIAL_OPS = ("none", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
                "avg_pool_3x3", "max_pool_3x3")
WHICH = ("official", "paper", "official-protocol")


def _official(seed: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PEER_SPACE": "darts"}
    t0 = time.perf_counter()
    with open(out / "log.txt", "w") as log:
        rc = subprocess.call([str(SHARED / "peer" / "run_official.sh"), str(seed), "cifar10", str(out)],
                             stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if rc != 0:
        raise SystemExit(f"the official search, seed {seed}, failed (rc {rc}): see {out / 'log.txt'}")
    (out / "seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}\n")


def _ours(protocol: str, seed: int, out: Path) -> None:
    from tenas.cli import main as tenas_main

    rc = tenas_main(["search", "--space", "darts", "--dataset", "cifar10", "--data", str(DATA), "--seed", str(seed),
                     "--protocol", protocol, "--out", str(out), "--quiet"])
    if rc != 0:
        raise SystemExit(f"tenas search --protocol {protocol}, seed {seed}, failed (rc {rc})")


def _genotype_counts(genotype: str) -> collections.Counter:
    """Op type -> count over the 16 (op, input) pairs of a genotype text."""
    from tenas.spaces.genotypes import parse_genotype

    g = parse_genotype(genotype)
    return collections.Counter(op for op, _ in [*g.normal, *g.reduce])


def _official_result(out: Path) -> dict | None:
    log = out / "log.txt"
    if not (out / "seconds.txt").exists() or not log.exists():
        return None
    end = [line for line in log.read_text().splitlines() if "End:" in line]
    if not end:
        return None
    text = end[-1].split("End:", 1)[1].strip()
    genotype = _official_genotype(text)
    # the official code writes into OUT/repeat3-prunNum3-.../run/seed<k>/
    history = np.load(sorted(out.rglob("arch_parameters_history.npy"))[0], allow_pickle=True)
    rounds = []
    for alphas in history:  # [normal (14, 8), reduce (14, 8)] with -inf where pruned
        alive = np.stack([np.asarray(a) > -500 for a in alphas])  # alive 0, pruned -INF = -1000 (prune_tenas.py)
        rounds.append({op: int(alive[..., k].sum()) for k, op in enumerate(OFFICIAL_OPS) if op != "none"})
    return {"genotype": genotype, "rounds": rounds, "seconds": float((out / "seconds.txt").read_text())}


def _official_genotype(text: str) -> str:
    """The official ``Genotype(normal=[...], ...)`` repr (its own NamedTuple, possibly with ``range``) as our text."""
    from tenas.spaces.genotypes import format_genotype, parse_genotype

    m = re.search(r"Genotype\(.*\)", text)
    if not m:
        raise ValueError(f"no Genotype(...) in the official End: line {text!r}")
    return format_genotype(parse_genotype(m.group(0)))


def _our_result(out: Path) -> dict | None:
    path = out / "result.json"
    if not path.exists():
        return None
    res = json.loads(path.read_text())
    from tenas.spaces.darts import OP_NAMES

    rounds = []
    for r in res["rounds"]:
        alive = np.asarray(r["alive_before"], bool)
        rounds.append({op: int(alive[..., k].sum()) for k, op in enumerate(OP_NAMES) if op != "none"})
    from tenas.spaces import get_space

    final = get_space("darts").to_mask(res["arch"])  # the found cells: after the edge phase
    rounds.append({op: int(final[..., k].sum()) for k, op in enumerate(OP_NAMES) if op != "none"})
    return {"genotype": res["arch"], "rounds": rounds, "seconds": float(res["seconds"])}


def main() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import seeds

    from tenas.spaces.genotypes import CELL_OPS

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=seeds, default=seeds("0-1"))
    ap.add_argument("--which", default=",".join(WHICH), help=f"comma-separated, of {', '.join(WHICH)}")
    ap.add_argument("--report", action="store_true", help="run nothing; report what has finished")
    args = ap.parse_args()
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    bad = [w for w in which if w not in WHICH]
    if bad:
        raise SystemExit(f"unknown --which {bad}; choose from {', '.join(WHICH)}")
    results: dict[str, dict[int, dict]] = collections.defaultdict(dict)
    for seed in args.seeds:  # back to back per seed: official, then ours
        for w in which:
            out = OUT / w / f"seed{seed}"
            read = _official_result if w == "official" else _our_result
            res = read(out)
            if res is None and not args.report:
                # "official-protocol" is our search with --protocol official
                _official(seed, out) if w == "official" else _ours(w.removesuffix("-protocol"), seed, out)
                res = read(out)
            if res is None:
                continue
            results[w][seed] = res
            counts = _genotype_counts(res["genotype"])
            print(f"{w:>18} seed {seed}: {res['seconds']:8.1f} s  {res['genotype']}")
            print(f"{'':>18} final ops: " + ", ".join(f"{op} {counts.get(op, 0)}" for op in CELL_OPS))
            for k, r in enumerate(res["rounds"]):
                label = "found" if k == len(res["rounds"]) - 1 else f"before round {k + 1}"
                print(f"{'':>18} alive, {label:>15}: " + ", ".join(f"{op} {r.get(op, 0)}" for op in CELL_OPS))
    print()
    for w, by_seed in results.items():
        counts = [_genotype_counts(r["genotype"]) for r in by_seed.values()]
        mean = {op: np.mean([c.get(op, 0) for c in counts]) for op in CELL_OPS}
        secs = [r["seconds"] for r in by_seed.values()]
        print(f"{w:>18}: seeds {sorted(by_seed)}, mean time {np.mean(secs):.0f} s; mean final op counts: "
              + ", ".join(f"{op} {v:.1f}" for op, v in mean.items()))
    if "official" in results:
        for w in ("paper", "official-protocol"):
            common = sorted(set(results["official"]) & set(results.get(w, {})))
            if common:
                off = sum(results["official"][s]["seconds"] for s in common)
                ours = sum(results[w][s]["seconds"] for s in common)
                print(f"time official / {w}: {off / ours:.2f}x over seeds {common} ({off:.0f} s vs {ours:.0f} s)")


if __name__ == "__main__":
    main()
