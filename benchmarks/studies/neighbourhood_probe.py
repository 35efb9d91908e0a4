"""Which proxy sees what a one-edit move does? Score a NAS-Bench-201 cell and its 18 one-edit neighbours with every
proxy, then report where each proxy (and each logrank ensemble of up to three) puts each cell.

    .venv/bin/python benchmarks/studies/neighbourhood_probe.py --dataset cifar10 --seeds 0,1,2 --out probe.json
    .venv/bin/python benchmarks/studies/neighbourhood_probe.py --analyse probe.json

The default centre is the all-3x3 cell, where the synflow climb of ``--objective tenas+`` ends on most seeds
(93.76 / 71.11); its neighbour with skip_connect on edge 0->3 is the benchmark's best cell (94.37 / 73.51). The
cells are scored as the local step scores them (:func:`tenas.correlate.protocol.score_cell`, same batch and
weights per seed) on ../shared/data/cifar/*_train_10k.npz. ``--out`` is rewritten after every seed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar"
ALL_3X3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def probe(dataset: str, seeds: list[int], protocol: str, proxies: list[str] | None, center: str, out: Path) -> None:
    import torch

    torch.set_num_threads(1)
    from tenas.bench.nb201 import lookup
    from tenas.correlate.presets import get_protocol
    from tenas.correlate.protocol import load_inputs, score_cell
    from tenas.indicators.registry import get_proxy, list_proxies
    from tenas.search.local import neighbours
    from tenas.spaces.nb201 import arch_to_index

    cells = [center] + neighbours(center)
    record = {"dataset": dataset, "protocol": protocol,
              "acc": {c: lookup(c).to_dict()[f"{dataset}_test"] for c in cells}, "seeds": {}}
    names = proxies or [p for p in list_proxies() if not get_proxy(p).needs]  # reg_swap needs mu / sigma
    prot = get_protocol(protocol)
    for s in seeds:
        t0 = time.time()
        inputs = load_inputs(dataset, str(SHARED / f"{dataset}_train_10k.npz"), s, prot, need_crops="regions" in names)
        record["seeds"][str(s)] = {c: {r[0]: r[1] for r in score_cell(arch_to_index(c), names, dataset, s, prot, inputs)}
                                   for c in cells}
        out.write_text(json.dumps(record))
        print(f"seed {s}: {len(cells)} cells x {len(names)} proxies in {time.time() - t0:.0f} s", flush=True)


def _ranks(scores: dict, cells: list[str], proxy: str) -> np.ndarray:
    from scipy.stats import rankdata

    from tenas.indicators.registry import get_proxy

    v = np.array([np.nan if scores[c][proxy] is None else scores[c][proxy] for c in cells], dtype=float)
    o = v if get_proxy(proxy).higher_is_better else -v
    return rankdata(-np.where(np.isfinite(o), o, -np.inf), method="average")  # 1 = predicted best


def analyse(path: Path, target: str | None, top: int) -> None:
    rec = json.loads(path.read_text())
    acc, seeds = rec["acc"], rec["seeds"]
    cells = list(acc)
    target = target or max(cells, key=acc.get)
    proxies = list(next(iter(seeds.values()))[cells[0]])
    print(f"{rec['dataset']}, protocol {rec['protocol']}: centre {cells[0]} ({acc[cells[0]]:.2f}); "
          f"target {target} ({acc[target]:.2f}); seeds {', '.join(seeds)}")
    print("rank (1 = best) of the target / of the centre per seed, and the accuracy of the proxy's pick:")
    for p in proxies:
        parts = []
        for sc in seeds.values():
            r = _ranks(sc, cells, p)
            parts.append(f"{r[cells.index(target)]:4.1f}/{r[0]:4.1f} {acc[cells[int(np.argmin(r))]]:6.2f}")
        print(f"  {p:18s} " + "   ".join(parts))
    print(f"logrank ensembles of 1-3 proxies by the mean accuracy of their pick over the seeds (top {top}; "
          f"chosen in-sample: check elsewhere):")
    rows = []
    for k in (1, 2, 3):
        for combo in itertools.combinations(proxies, k):
            picks = [acc[cells[int(np.argmin(sum(np.log(_ranks(sc, cells, p)) for p in combo)))]]
                     for sc in seeds.values()]
            rows.append((float(np.mean(picks)), combo, picks))
    rows.sort(key=lambda r: -r[0])
    for mean, combo, picks in rows[:top]:
        print(f"  {mean:6.2f}  {'+'.join(combo):45s} " + " ".join(f"{x:.2f}" for x in picks))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--protocol", default="published", choices=("fast", "published"))
    ap.add_argument("--proxies", default=None, help="comma-separated (default: every registered proxy)")
    ap.add_argument("--center", default=ALL_3X3)
    ap.add_argument("--out", type=Path, default=Path("neighbourhood_probe.json"))
    ap.add_argument("--analyse", type=Path, default=None, help="print the report of a probe's JSON instead")
    ap.add_argument("--target", default=None, help="the cell to follow (default: the best neighbour)")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    if args.analyse:
        analyse(args.analyse, args.target, args.top)
        return
    probe(args.dataset, [int(s) for s in args.seeds.split(",")], args.protocol,
          args.proxies.split(",") if args.proxies else None, args.center, args.out)


if __name__ == "__main__":
    main()
