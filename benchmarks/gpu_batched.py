"""The candidate-batching GPU check, as one short script for a lent accelerator machine (one call, <= ~9 min).

Runs, one after another, each in its own process with a time limit, and stops launching once ``--budget``
seconds are spent:

1. NB201 CIFAR-10 default search (paper settings), seed S, ``--candidate-batch auto`` (batched);
2. the same with ``--candidate-batch 1`` (one candidate at a time);
3. DARTS CIFAR-10 search (official settings), seed S, batched;
4. the same unbatched.

For each: wall time, peak GPU memory (``torch.cuda.max_memory_allocated``), the found cell and the NB201
accuracies; then whether batched and unbatched found the same cell. Targets (issue): NB201 <= 30 s, DARTS
<= 180 s, same cells.

    PYTHONPATH=src python3 benchmarks/gpu_batched.py --data DIR_WITH_NPZ --out "$OUT" [--budget 500] [--seed 0]

Try it on CPU first with small settings (it then measures nothing useful, only that it runs)::

    .venv/bin/python benchmarks/gpu_batched.py --device cpu --out /tmp/gb --batched 4 \
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

ROOT = Path(__file__).resolve().parents[1]

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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None, help="folder with cifar10_train_10k.npz (default: the embedded sample)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=500.0, help="seconds for the whole script")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--parts", default="nb201-batched,nb201-unbatched,darts-batched,darts-unbatched")
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
