"""kappa_N of TE-NAS' NTK supernet on 72 real CIFAR-10 images: the original procedure vs ours.

* original: TE-NAS ``get_ntk_n`` written out -- one forward of the batch in train mode, then one
  ``backward`` per sample over the retained whole-batch graph (``.grad`` accumulated and zeroed), the
  ``weight`` gradients concatenated, NTK = J J^T and ``eigvalsh`` in float32 -- on the supernet computed op
  by op (``Cell201.fused = False``, the NB201 code as TE-NAS runs it), with glibc's default allocator.
* ours: :func:`tenas.ntk_condition_number` with its defaults (``method="auto"`` = ``"threads"`` on CPU:
  the rows' ``autograd.grad`` calls over the retained graph from 2x(torch threads) Python threads, each
  single-threaded; float64 kernel; the allocator tuned by :mod:`tenas._alloc`) on ``supernet()`` with the
  fused cell (one conv + one BatchNorm per source node).

Each configuration runs in its own fresh process (so allocator settings and peak RSS are its own),
configurations alternate, and each process times ``--calls`` calls after one warm-up call; the best and
median over all calls are printed (wall and process CPU time), with the ratio, peak RSS per process, the
values and their relative difference (float32 rounding: the two compute the same kernel in different
orders), and the load average. ``--levers`` adds the configurations in between (allocator alone, fusion
alone, ``method="batched"``), ``--float64`` checks both in float64 as well (slow).

    .venv/bin/python benchmarks/speed/bench_ntk.py [--threads 2] [--rounds 2] [--calls 2] [--levers] [--float64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(os.environ.get("TENAS_SHARED", Path(__file__).resolve().parents[3] / "shared"))
CIFAR = SHARED / "data" / "cifar" / "cifar10_train_10k.npz"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

CONFIGS = {
    "original": {"proc": "original", "fused": False, "alloc": False},
    "ours": {"proc": "ours", "fused": True, "alloc": True, "method": "auto"},
}
LEVERS = {
    "original + allocator": {"proc": "original", "fused": False, "alloc": True},
    "ours, op by op": {"proc": "ours", "fused": False, "alloc": True, "method": "auto"},
    "ours, default allocator": {"proc": "ours", "fused": True, "alloc": False, "method": "auto"},
    "ours, rows one at a time": {"proc": "ours", "fused": True, "alloc": True, "method": "loop"},
    "ours, batched VJPs": {"proc": "ours", "fused": True, "alloc": True, "method": "batched"},
}


# --------------------------------------------------------------------------------------------------
# child: one configuration
# --------------------------------------------------------------------------------------------------
def original_kappa(net, x) -> float:
    """TE-NAS lib/procedures/ntk.py get_ntk_n(train_mode=True, num_batch=1), for one network, on CPU."""
    import torch

    net.train()
    net.zero_grad()
    logit = net(x)
    grads = []
    for i in range(len(x)):
        logit[i:i + 1].backward(torch.ones_like(logit[i:i + 1]), retain_graph=True)
        grads.append(torch.cat([w.grad.view(-1).detach() for name, w in net.named_parameters()
                                if "weight" in name and w.grad is not None], -1))
        net.zero_grad()
    grads = torch.stack(grads, 0)
    ntk = torch.einsum("nc,mc->nm", [grads, grads])
    eigenvalues = torch.linalg.eigvalsh(ntk)  # ascending (torch.symeig in the original)
    return (eigenvalues[-1] / eigenvalues[0]).item()


def child(cfg: dict) -> None:
    if not cfg["alloc"]:
        os.environ["TENAS_TUNE_ALLOCATOR"] = "0"
    import numpy as np
    import torch

    torch.set_num_threads(cfg["threads"])
    from tenas.indicators.init import kaiming_init_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.spaces.nb201 import Cell201, supernet

    if cfg["alloc"]:
        from tenas._alloc import tune_allocator

        tune_allocator()
    Cell201.fused = cfg["fused"]
    images = np.load(CIFAR)["x"][: cfg["batch"]]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    net = supernet()  # C=3, N=1, every op but none alive
    kaiming_init_(net, mode="fan_out", generator=torch.Generator().manual_seed(0))
    if cfg.get("float64"):
        net, x = net.double(), x.double()
    if cfg["proc"] == "original":
        def run():
            return original_kappa(net, x)
    else:
        def run():
            return ntk_condition_number(net, x, method=cfg["method"])
    run()  # warm-up (first-call costs: oneDNN primitives, allocator)
    calls = []
    for _ in range(cfg["calls"]):
        t, c = time.perf_counter(), time.process_time()
        value = run()
        calls.append((time.perf_counter() - t, time.process_time() - c, value))
    print(json.dumps({"calls": calls, "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# --------------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------------
def run_child(cfg: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"configuration {cfg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="processes per configuration (alternating)")
    ap.add_argument("--calls", type=int, default=2, help="timed calls per process")
    ap.add_argument("--batch", type=int, default=72)
    ap.add_argument("--levers", action="store_true", help="also time the configurations in between")
    ap.add_argument("--float64", action="store_true", help="also compare the values in float64")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    configs = dict(CONFIGS, **(LEVERS if args.levers else {}))
    common = {"threads": args.threads, "calls": args.calls, "batch": args.batch}
    results: dict[str, list] = {name: [] for name in configs}
    rss: dict[str, float] = {}
    load0 = os.getloadavg()
    for r in range(args.rounds):
        for name, cfg in configs.items():
            out = run_child({**cfg, **common})
            results[name] += out["calls"]
            rss[name] = max(rss.get(name, 0.0), out["maxrss_mib"])
            print(f"  round {r + 1}: {name:26s} " + "  ".join(f"{w:6.2f}s wall {c:6.2f}s CPU" for w, c, _ in out["calls"]),
                  flush=True)
    load1 = os.getloadavg()

    print(f"\nkappa_N, NB201 supernet (C=3, N=1, all ops but none), {args.batch} CIFAR-10 images, "
          f"{args.threads} threads, {args.rounds} processes x {args.calls} calls each")
    print(f"  {'configuration':26s} {'best wall':>10s} {'median':>8s} {'best CPU':>9s} {'peak RSS':>9s}  kappa")
    for name, calls in results.items():
        walls, cpus = [w for w, _, _ in calls], [c for _, c, _ in calls]
        print(f"  {name:26s} {min(walls):9.2f}s {statistics.median(walls):7.2f}s {min(cpus):8.2f}s "
              f"{rss[name]:6.0f} MiB  {calls[-1][2]:.10g}")
    best = {name: (min(w for w, _, _ in c), min(cp for _, cp, _ in c)) for name, c in results.items()}
    o, u = best["original"], best["ours"]
    v_o, v_u = results["original"][-1][2], results["ours"][-1][2]
    print(f"  speed-up ours vs original: {o[0] / u[0]:.2f}x wall (best), {o[1] / u[1]:.2f}x CPU (best)")
    print(f"  relative difference of kappa (float32): {abs(v_u - v_o) / abs(v_o):.2e}")
    if args.float64:
        a = run_child({**CONFIGS["original"], **common, "calls": 1, "float64": True})["calls"][0][2]
        b = run_child({**CONFIGS["ours"], **common, "calls": 1, "float64": True})["calls"][0][2]
        print(f"  float64: original {a:.12g}, ours {b:.12g}, relative difference {abs(a - b) / abs(a):.2e}")
    print(f"  load average {load0[0]:.2f} at start, {load1[0]:.2f} at end, on {os.cpu_count()} CPUs; "
          f"peak RSS of the parent {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
