"""The candidate-batching GPU check, as one short script for a lent accelerator machine (one call, <= ~9 min).

Runs, one after another, each in its own process with a time limit, and stops launching once ``--budget``
seconds are spent:

1. NB201 CIFAR-10 default search (paper settings), seed S, ``--candidate-batch auto`` (batched);
2. the same with ``--candidate-batch 1`` (one candidate at a time);
3. DARTS CIFAR-10 search (official settings), seed S, batched;
4. the same unbatched.

0. (``precision``) kappa_N of the NB201 round-1 supernet and candidates (batch 72): batched in float32 on the
   device vs one at a time in float64 (the largest relative difference; CPU float32 under vmap was off, see
   ``tenas.search.batched``).

For each search: wall time, peak GPU memory (``torch.cuda.max_memory_allocated``), the found cell and the NB201
accuracies; then whether batched and unbatched found the same cell. Targets (issue): NB201 <= 30 s, DARTS
<= 180 s, same cells.

    PYTHONPATH=src python3 benchmarks/device/gpu_batched.py --data DIR_WITH_NPZ --out "$OUT" [--budget 500] [--seed 0]

Try it on CPU first with small settings (it then measures nothing useful, only that it runs)::

    .venv/bin/python benchmarks/device/gpu_batched.py --device cpu --out /tmp/gb --batched 4 \
        --search-args "--repeats 1 --batch-size 8 --region-samples 300"
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, sys, time, torch
from tenas.cli import main
argv = json.loads(sys.argv[1])
if torch.cuda.is_available():
    torch.cuda.reset_peak_memory_stats()
t0 = time.perf_counter()
rc = main(argv)
wall = time.perf_counter() - t0
peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
print("CHILD-RESULT " + json.dumps({"rc": rc, "wall_s": wall, "peak_gpu_mib": peak}))
"""


def _one(tag: str, argv: list[str], out: Path, timeout: float) -> dict:
    env_py = [sys.executable, "-c", _CHILD, json.dumps(argv)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(env_py, capture_output=True, text=True, timeout=timeout)
        text = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        return {"tag": tag, "error": f"timed out after {timeout:.0f} s", "wall_s": time.perf_counter() - t0,
                "tail": str(err.stdout or "")[-2000:]}
    line = next((ln for ln in text.splitlines() if ln.startswith("CHILD-RESULT ")), None)
    if line is None:
        return {"tag": tag, "error": "no result", "tail": text[-3000:]}
    row = {"tag": tag, **json.loads(line[len("CHILD-RESULT "):])}
    result_path = Path(argv[argv.index("--out") + 1]) / "result.json"
    if result_path.exists():
        result = json.loads(result_path.read_text())
        row.update(arch=result["arch"], benchmark=result.get("benchmark"),
                   candidate_batch=result["config"].get("candidate_batch"),
                   kappa_worker_s=result["timing"]["kappa_worker_seconds"],
                   regions_worker_s=result["timing"]["regions_worker_seconds"])
    return row


def _precision(device: str, masks: int = 25) -> str:
    import copy

    import numpy as np
    import torch

    from tenas.data import load_dataset
    from tenas.indicators.init import init_weights_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.search.batched import batched_kappas
    from tenas.search.inputs import InputSource
    from tenas.search.prune import SearchConfig, prune_candidates
    from tenas.spaces import get_space

    t0 = time.perf_counter()
    space = get_space("nb201")
    _, ms = prune_candidates(space.initial_alive())
    ms = ms[:masks]
    net = space.ntk_network(ms[0], 10)
    init_weights_(net, "kaiming", 1, mode="fan_out")
    x = torch.as_tensor(InputSource(load_dataset("cifar10"), SearchConfig()).batch(0, 0)).to(device)
    net.to(device)
    t1 = time.perf_counter()
    got = batched_kappas(space, net, x, ms, chunk=len(ms), dtype=torch.float32)
    t_batched = time.perf_counter() - t1
    exact = []
    for m in ms:
        net.set_alive(np.asarray(m, bool))
        exact.append(ntk_condition_number(copy.deepcopy(net).double(), x.double()))
    diff = max(abs(a / b - 1) for a, b in zip(got, exact))
    return (f"precision: {len(ms)} NB201 round-1 kappas on {device}, batched float32 in {t_batched:.1f} s vs one at a "
            f"time float64: max relative difference {diff:.2e} ({time.perf_counter() - t0:.0f} s in all)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="folder with cifar10_train_10k.npz (default: the embedded sample)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=500.0, help="seconds for the whole script")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--parts", default="precision,nb201-batched,nb201-unbatched,darts-batched,darts-unbatched")
    ap.add_argument("--search-args", default="", help="more `tenas search` arguments, space-separated")
    ap.add_argument("--batched", default="auto", help="--candidate-batch of the batched parts (default auto)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    log = open(out / "gpu_batched.log", "a")

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")

    data = ["--data", str(Path(args.data) / "cifar10_train_10k.npz")] if args.data else []
    rows = []
    for part in args.parts.split(","):
        if part == "precision":
            say(_precision(args.device))
            continue
        space, how = part.split("-")
        left = args.budget - (time.time() - t_start)
        if left < 30:
            say(f"{part}: skipped, {left:.0f} s of the budget left")
            continue
        argv = ["search", "--space", space, "--dataset", "cifar10", "--seed", str(args.seed), "--device", args.device,
                "--out", str(out / part), "--force", "--quiet",
                "--candidate-batch", args.batched if how == "batched" else "1", *data, *shlex.split(args.search_args)]
        row = _one(part, argv, out, timeout=left)
        rows.append(row)
        bench = row.get("benchmark") or {}
        say(f"{part}: {row.get('wall_s', float('nan')):.1f} s wall, peak GPU {row.get('peak_gpu_mib', float('nan')):.0f} MiB, "
            f"candidate batch {row.get('candidate_batch')}, cell {row.get('arch')}"
            + (f" (C10 {bench['cifar10_test']:.2f}, C100 {bench['cifar100_test']:.2f})" if bench else "")
            + (f"  ERROR {row['error']}: {row.get('tail', '')[-800:]}" if "error" in row else ""))
    by = {r["tag"]: r for r in rows}
    for space, target in (("nb201", 30.0), ("darts", 180.0)):
        b, u = by.get(f"{space}-batched"), by.get(f"{space}-unbatched")
        if b and u and "arch" in b and "arch" in u:
            say(f"{space}: batched {b['wall_s']:.1f} s vs unbatched {u['wall_s']:.1f} s ({u['wall_s'] / b['wall_s']:.2f}x); "
                f"target <= {target:.0f} s: {'met' if b['wall_s'] <= target else 'NOT met'}; "
                f"same cell: {b['arch'] == u['arch']}")
    (out / "gpu_batched.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
