"""How much of a pruning round's kappa / R differences is noise? Read from finished searches' result.json.

    .venv/bin/python benchmarks/studies/round_noise.py [--tags macro,macro-max-flops-60M,nb201-max-params-0.5M]

For each tag of runs/space_quality/<tag>/seed*/result.json (written by `benchmarks/quality/space_quality.py`, the
default `--protocol paper`: in a round, repeat r measures every candidate on the same weights and batch), one
two-way analysis per round of log(kappa) (and log R) over candidates x repeats:
x[c, r] = mean + a_c + b_r + e. The repeat effect b_r is what the common weights and batch cancel (the ranking
uses each repeat's change against the supernet of that repeat).

- noise: the standard error of a candidate's mean over its repeats from the residual e (sqrt(var(e) / repeats));
- spread: the standard deviation of the candidates' means within the round;
- signal / noise = spread / noise, the square root of the analysis' F statistic: about 1 when the candidates do not
  differ beyond chance, large when the round's ranking is mostly signal. Averaged over rounds.

The non-finite kappa fraction counts candidates left out (none so far).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _stats(rounds: list[np.ndarray]) -> tuple[float, float]:
    """Mean over rounds of (noise, spread) of log values, each round a candidates x repeats array."""
    noise, spread = [], []
    for x in rounds:
        x = x[np.all(np.isfinite(x) & (x > 0), axis=1)]
        if x.shape[0] < 2 or x.shape[1] < 2:
            continue
        x = np.log(x)
        rows, cols = x.mean(axis=1, keepdims=True), x.mean(axis=0, keepdims=True)
        resid = x - rows - cols + x.mean()
        var_e = (resid ** 2).sum() / ((x.shape[0] - 1) * (x.shape[1] - 1))
        noise.append(np.sqrt(var_e / x.shape[1]))
        spread.append(rows.std(ddof=1))
    return float(np.mean(noise)), float(np.mean(spread))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tags", default="macro,macro-max-flops-60M,nb201-max-params-0.5M,nb201")
    args = ap.parse_args()
    print(f"{'tag':28s} {'seeds':>5s} {'cands':>6s}  {'log kappa noise':>15s} {'spread':>7s} {'s/n':>5s}   "
          f"{'log R noise':>11s} {'spread':>7s} {'s/n':>5s}  non-finite kappa")
    for tag in args.tags.split(","):
        files = sorted((ROOT / "runs" / "space_quality" / tag).glob("seed*/result.json"))
        if not files:
            print(f"{tag:28s} no finished seeds")
            continue
        kappa, regions, n, bad = [], [], 0, 0
        for f in files:
            for rd in json.loads(f.read_text())["rounds"]:
                cands = rd["candidates"]
                n += len(cands)
                bad += sum(not np.all(np.isfinite(np.asarray(c["kappa"], float))) for c in cands)
                kappa.append(np.array([c["kappa"] for c in cands], float))
                regions.append(np.array([c["regions"] for c in cands], float))
        kn, ks = _stats(kappa)
        rn, rs = _stats(regions)
        print(f"{tag:28s} {len(files):5d} {n:6d}  {kn:15.3f} {ks:7.3f} {ks / kn:5.2f}   {rn:11.3f} {rs:7.3f} "
              f"{rs / rn:5.2f}  {bad / n:.3f}")


if __name__ == "__main__":
    main()
