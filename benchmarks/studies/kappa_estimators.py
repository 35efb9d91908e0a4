"""Cheaper estimators of kappa_N against the exact kernel, on the candidates of a real NB201 search round.

For each seed: the first pruning round of `tenas search` on real CIFAR-10 (the full supernet and its 24
"without op" candidates, 3 repeats, the search's own weights, batches and crops), scored with

* ``exact-72``   TE-NAS' kernel, batch 72 (the reference; what the search uses by default);
* ``replicate``  the same, with independent weights and batches (seed + 1000): how well the reference agrees
                 with *itself* -- the noise floor any estimator is up against;
* ``exact-32``   TE-NAS' kernel on the first 32 images of each batch (the paper's appendix batch);
* ``fixed-bn``   BatchNorm statistics held at the batch's values (``--kappa fixed-bn``), batch 72.

Printed per estimator: Kendall tau and Spearman rho of the candidates' d_kappa (mean over repeats) against
the reference, how many of the 6 edges prune the same op as the reference (rank sum with the same R), and
the worker seconds per network. Workers: 2 processes, 1 torch thread each (as the search).

    .venv/bin/python benchmarks/studies/kappa_estimators.py [--seeds 0,1] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

SHARED = Path(os.environ.get("TENAS_SHARED", Path(__file__).resolve().parents[3] / "shared"))
DATA = SHARED / "data" / "cifar" / "cifar10_train_10k.npz"


def _round_one(seed: int, kappa: str, batch: int, pool, dataset, first: int | None = None):
    """kappa[r][m], regions[r][m] and worker seconds for round 1's masks (full supernet first)."""
    import functools

    from tenas.search.objective import parse_objective
    from tenas.search.protocols import get_protocol
    from tenas.search.inputs import InputSource, derive_seed
    from tenas.search.measure import score_masks
    from tenas.search.prune import SearchConfig, _tasks, prune_candidates
    from tenas.spaces import get_space

    config = SearchConfig(seed=seed, kappa=kappa, batch_size=batch)
    candidates, masks = prune_candidates(get_space("nb201").initial_alive())
    protocol = get_protocol("paper")
    groups = protocol.groups(config, functools.partial(derive_seed, seed), 0, 0, len(candidates))
    tasks, layout = _tasks(("nb201", {}), config, parse_objective("tenas"), InputSource(dataset, config), protocol, 0, groups,
                           masks, "cpu", chunk=1)
    if first is not None:
        for task in tasks:
            task["batch"] = task["batch"][:first]
    kappa_v = np.full((config.repeats, len(masks)), np.nan)
    regions = np.full_like(kappa_v, np.nan)
    seconds = 0.0
    for i, res in pool.run(score_masks, tasks):
        ((gi, start),) = layout[i]
        r = groups[gi].repeat
        kappa_v[r, start] = res["kappa"][0]
        regions[r, start] = res["regions"][0]
        seconds += res["t_kappa"]
    return candidates, kappa_v, regions, seconds / kappa_v.size


def _pruned(candidates, kappa, regions) -> dict:
    from tenas.search.rank import choose_prunes, rank_candidates, relative_drop

    reps, m = kappa.shape
    d_k = [float(np.mean([relative_drop(kappa[r, 0], kappa[r, j]) for r in range(reps)])) for j in range(1, m)]
    d_r = [float(np.mean([relative_drop(regions[r, 0], regions[r, j]) for r in range(reps)])) for j in range(1, m)]
    ranked = rank_candidates(candidates, d_k, d_r, digits=3)
    chosen = choose_prunes(ranked, {(t, e): 1 for t, e, _ in candidates})
    return {c.edge: c.op for c in chosen}, np.asarray(d_k)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from tenas.data import load_dataset
    from tenas.parallel.local import LocalPool

    dataset = load_dataset("cifar10", str(DATA), split="train")
    variants = {
        "exact-72": ("exact", 72, None, 0),
        "replicate": ("exact", 72, None, 1000),
        "exact-32": ("exact", 72, 32, 0),
        "fixed-bn": ("fixed-bn", 72, None, 0),
    }
    summary: dict[str, list] = {k: [] for k in variants if k != "exact-72"}
    t0 = time.time()
    with LocalPool(workers=args.workers) as pool:
        for seed in [int(s) for s in args.seeds.split(",")]:
            results = {}
            for name, (kappa, batch, first, offset) in variants.items():
                cands, k, r, sec = _round_one(seed + offset, kappa, batch, pool, dataset, first)
                pruned, d_k = _pruned(cands, k, r)
                results[name] = (pruned, d_k, sec)
                print(f"seed {seed} {name:10s} {sec:6.2f} worker-s/net  supernet kappa {np.mean(k[:, 0]):10.1f}  "
                      f"pruned {dict(sorted(pruned.items()))}  [{time.time() - t0:.0f}s]", flush=True)
            ref_pruned, ref_dk, ref_sec = results["exact-72"]
            for name in summary:
                pruned, d_k, sec = results[name]
                tau = stats.kendalltau(ref_dk, d_k).statistic
                rho = stats.spearmanr(ref_dk, d_k).statistic
                same = sum(pruned[e] == ref_pruned[e] for e in ref_pruned)
                summary[name].append((tau, rho, same, sec / ref_sec))
                print(f"seed {seed} {name:10s} vs exact-72: tau {tau:.3f}  rho {rho:.3f}  same prune on {same}/6 edges  "
                      f"cost {sec / ref_sec:.3f}x", flush=True)
    print()
    print("d_kappa of round 1's 24 candidates (3 repeats) against TE-NAS' exact kernel at batch 72, "
          f"seeds {args.seeds}, real CIFAR-10")
    print(f"  {'estimator':10s} {'Kendall tau':>12s} {'Spearman rho':>13s} {'same prune':>11s} {'cost vs exact':>14s}")
    for name, rows in summary.items():
        a = np.asarray(rows)
        print(f"  {name:10s} {a[:, 0].mean():12.3f} {a[:, 1].mean():13.3f} {a[:, 2].mean():9.1f}/6 {a[:, 3].mean():13.3f}x")
    print("  (replicate = the exact kernel with independent weights and batches: the reference's own noise)")


if __name__ == "__main__":
    main()
