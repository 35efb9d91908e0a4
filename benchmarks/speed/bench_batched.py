"""Candidate batching on this machine: one round-1 group of a search (the supernet and its first candidates, the
paper's settings) measured one at a time vs in vmapped passes of K candidates (``tenas.search.batched``).

    .venv/bin/python benchmarks/speed/bench_batched.py [--space nb201|darts] [--masks 6] [--batches 1,3,6] [--device cpu]

Prints seconds per candidate (kappa_N + R_N) for each K, the ratio to K=1, and the largest relative kappa
difference to K=1 (oneDNN off for K=1 so that both are exact float32; see tests/test_batched.py). This is what
``--candidate-batch auto`` is chosen from: on a 2-core CPU one at a time was faster.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", default="nb201", choices=("nb201", "darts"))
    ap.add_argument("--masks", type=int, default=6, help="the supernet and this many minus one candidates")
    ap.add_argument("--batches", default="1,3,6")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--row-chunk", type=int, default=None, help="rows of J per vmapped backward (default: the search's)")
    args = ap.parse_args()

    from tenas.data import load_dataset
    from tenas.search.inputs import InputSource
    from tenas.search.measure import score_masks
    from tenas.search.prune import SearchConfig, prune_candidates
    from tenas.spaces import get_space

    space = get_space(args.space)
    batch = 72 if args.space == "nb201" else 14
    config = SearchConfig(space=args.space, seed=args.seed, batch_size=batch)
    source = InputSource(load_dataset("cifar10"), config)
    _, masks = prune_candidates(space.initial_alive())
    masks = masks[: args.masks]
    task = {"space": args.space, "num_classes": 10, "ntk_init": ("kaiming", 1), "region_init": ("kaiming", 2),
            "batch": source.batch(0, 0), "crops": source.crops(0, 0), "region_batch": 1000, "kappa": "exact",
            "device": args.device, "masks": [np.asarray(m).tolist() for m in masks],
            **({"row_chunk": args.row_chunk} if args.row_chunk else {})}
    score_masks({**task, "masks": task["masks"][:1]})  # warm-up: networks built, allocator tuned
    def timed(k: int) -> tuple[float, dict]:
        t0 = time.perf_counter()
        res = score_masks({**task, "candidate_batch": k})
        return time.perf_counter() - t0, res

    t1, one = timed(1)  # the search's own setting (NB201: oneDNN on; DARTS: off)
    with torch.backends.mkldnn.flags(enabled=False):
        exact = score_masks({**task, "candidate_batch": 1})["kappa"]
    rows = []
    for k in [int(v) for v in args.batches.split(",")]:
        seconds, res = (t1, one) if k == 1 else timed(k)
        diff = max(abs(a / b - 1) for a, b in zip(res["kappa"], exact))
        rows.append((k, seconds, seconds / t1, diff, res["regions"] == one["regions"]))
    print(f"{args.space}: {len(masks)} masks (supernet + {len(masks) - 1} candidates), NTK batch {batch}, "
          f"3,000 crops, device {args.device}, {torch.get_num_threads()} threads")
    print(f"{'K':>4s} {'s/candidate':>12s} {'vs K=1':>8s} {'kappa vs exact':>15s} {'R as K=1':>8s}")
    for k, s, r, d, same in rows:
        print(f"{k:4d} {s / len(masks):12.2f} {r:8.2f} {d:15.2e} {str(same):>8s}")


if __name__ == "__main__":
    main()
