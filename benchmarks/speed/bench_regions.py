"""R_N on TE-NAS' thin NB201 supernet: ours (packed bits + sort) vs the original n x n Hamming-matrix count.

TE-NAS (``lib/procedures/linear_region_counter.py``) forwards 3 chunks of 1,000 single-channel 3x3 crops
through the thin supernet in train mode, keeps the sign of every ReLU output (ReLUs with 4-D input), and
counts distinct patterns with an n x n matrix product of the sign patterns (half precision on its GPU;
float32 here, the CPU has no fast half matmul).

    .venv/bin/python benchmarks/speed/bench_regions.py [--samples 3000] [--chunk 1000] [--repeats 5]

Prints both timings (best of ``--repeats``, wall and CPU) for the counting step alone (the same sign
patterns in, the count out) and end to end (forward passes included, which then dominate ours), their
ratios, the counts (must be equal), the load average and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tenas.indicators.crops import random_crops
from tenas.indicators.init import kaiming_init_
from tenas.indicators.regions import count_distinct_rows, count_linear_regions
from tenas.spaces.nb201 import thin_supernet

CIFAR = Path(os.environ.get("TENAS_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "data" / "cifar" / "cifar10_train_10k.npz"
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def cifar_images(n: int) -> torch.Tensor:
    x = torch.from_numpy(np.load(CIFAR)["x"][:n]).permute(0, 3, 1, 2).float().div_(255)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def sign_patterns(model: nn.Module, crops: torch.Tensor, chunk: int) -> torch.Tensor:
    """TE-NAS' Linear_Region_Collector: train mode, hooks on ReLUs with 4-D input, sign of the outputs."""
    feats: list[torch.Tensor] = []

    def hook(module, inp, out):
        if isinstance(inp, tuple) and inp[0].dim() == 4:
            feats.append(out.detach())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    model.train()
    rows = []
    try:
        with torch.no_grad():
            for s in range(0, len(crops), chunk):
                feats.clear()
                part = crops[s:s + chunk]
                model(part)
                rows.append(torch.sign(torch.cat([f.view(part.size(0), -1) for f in feats], 1)))
    finally:
        for h in handles:
            h.remove()
    return torch.cat(rows)


def hamming_count(act: torch.Tensor) -> int:
    """TE-NAS' LinearRegionCount.calc_LR: n x n matrix of pattern mismatches (float32 here)."""
    with torch.no_grad():
        res = torch.matmul(act, (1 - act).T)
        res = res + res.T  # (TE-NAS: res += res.T, refused by current torch)
        res = 1 - torch.sign(res)
        res = res.sum(1)
        res = 1.0 / res.float()
        return int(round(res.sum().item()))


def original_count(model: nn.Module, crops: torch.Tensor, chunk: int) -> int:
    return hamming_count(sign_patterns(model, crops, chunk))


def packed_count(act: torch.Tensor) -> int:
    """Ours, from the same sign matrix: pack the bits, count distinct rows by sorting."""
    return count_distinct_rows(np.packbits(act.numpy() > 0, axis=1))


def best_of(fn, repeats: int):
    walls, cpus, value = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    g = torch.Generator().manual_seed(0)
    crops = random_crops(cifar_images(2000), n=args.samples, size=3, generator=g)
    model = thin_supernet()
    kaiming_init_(model, mode="fan_in", generator=torch.Generator().manual_seed(1))

    act = sign_patterns(model, crops, args.chunk)
    results = {
        "count only: original (n x n Hamming matmul)": best_of(lambda: hamming_count(act), args.repeats),
        "count only: ours (packbits + sort)": best_of(lambda: packed_count(act), args.repeats),
        "end to end: original (forward + Hamming)": best_of(lambda: original_count(model, crops, args.chunk), args.repeats),
        "end to end: ours (count_linear_regions)": best_of(
            lambda: count_linear_regions(model, crops, batch_size=args.chunk), args.repeats),
    }
    print(f"R_N, thin NB201 supernet, {args.samples} CIFAR-10 crops ({act.shape[1]} ReLU outputs each) in chunks "
          f"of {args.chunk}, {args.threads} threads, best of {args.repeats}")
    for name, (wall, cpu, value) in results.items():
        print(f"  {name:46s} {wall * 1e3:9.1f} ms wall {cpu * 1e3:9.1f} ms CPU   R = {value}")
    names = list(results)
    for a, b in ((names[0], names[1]), (names[2], names[3])):
        (wa, ca, ra), (wb, cb, rb) = results[a], results[b]
        print(f"  speed-up {b.split(':')[0]}: {wa / wb:.1f}x wall, {ca / cb:.1f}x CPU; counts equal: {ra == rb}")
    print(f"  peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    r_orig, r_ours = results[names[2]][2], results[names[3]][2]
    return 0 if r_orig == r_ours else 1


if __name__ == "__main__":
    sys.exit(main())
