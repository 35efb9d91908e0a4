"""CPU seconds per cell of every proxy, one torch thread: the zero-cost-nas protocol vs the one tenas uses.

Baseline: every proxy on the full NAS-Bench-201 network (C=16, N=5) on a batch of 64 images, as
Abdelfattah et al. (ICLR 2021) score NB201, and kappa_N on that network with 32 images.
Ours: the protocol ``tenas correlate`` runs by default (:class:`tenas.correlate.protocol.Protocol`).
Prints per proxy: baseline s/cell, ours s/cell and the ratio, plus the sum (the cost of one cell on one
core) and the 1,000-cell wall time that implies on two workers. Same cells, same data, same seeds. And
what the cheaper protocol costs in fidelity: Kendall tau between the two protocols' values over the cells
(``agree``) and each protocol's tau against CIFAR-10 test accuracy (noisy for a few dozen cells).

    nice -n 10 python benchmarks/speed/bench_proxies.py --cells 8 [--data /path/cifar10_train_10k.npz]
    nice -n 10 python benchmarks/speed/bench_proxies.py --cells 8 --ours C=8,N=1,batch_size=64
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def parse_protocol(text: str):
    from tenas.correlate.protocol import Protocol

    kw = {}
    for part in filter(None, text.split(",")):
        k, v = part.split("=")
        kw[k.strip()] = type(getattr(Protocol(), k.strip()))(v) if k.strip() != "augment" else v == "True"
    return Protocol(**kw)


def time_protocol(protocol, cells, proxies, dataset, data, seed):
    from tenas.correlate.protocol import load_inputs, score_cell

    inputs = load_inputs(dataset, data, seed, protocol, need_crops="regions" in proxies)
    score_cell(cells[0], proxies, dataset, seed, protocol, inputs)  # warm-up (allocator, lazy imports)
    secs = {p: [] for p in proxies}
    vals = {p: [] for p in proxies}
    fails = {p: 0 for p in proxies}
    for c in cells:
        for name, raw, err, _wall, cpu in score_cell(c, proxies, dataset, seed, protocol, inputs):
            secs[name].append(cpu)
            vals[name].append(raw)
            fails[name] += err is not None
    return {p: float(np.mean(v)) for p, v in secs.items()}, fails, {p: np.array(v) for p, v in vals.items()}


def main() -> None:
    from tenas.correlate.protocol import Protocol
    from tenas.correlate.run import sample_cells
    from tenas.indicators.registry import resolve_proxies

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--data", default=None)
    ap.add_argument("--proxies", default="all")
    ap.add_argument("--baseline", default="C=16,N=5,batch_size=64,ntk_C=16,ntk_N=5,ntk_batch=32")
    ap.add_argument("--ours", default="", help="protocol fields, e.g. C=8,N=1 (default: Protocol())")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    proxies = resolve_proxies(args.proxies)
    cells = sample_cells(args.cells, 12345)  # a sample apart from the correlate seeds
    ours = parse_protocol(args.ours) if args.ours else Protocol()
    load0 = os.getloadavg()[0]
    t0 = time.time()
    res_o, fail_o, val_o = time_protocol(ours, cells, proxies, args.dataset, args.data, args.seed)
    res_b, fail_b, val_b = ({}, {}, {}) if args.skip_baseline else time_protocol(
        parse_protocol(args.baseline), cells, proxies, args.dataset, args.data, args.seed)
    from tenas.correlate.run import accuracy
    from tenas.correlate.stats import correlation

    acc = accuracy(args.dataset, cells)
    print(f"{len(cells)} cells, 1 torch thread, load average {load0:.1f} -> {os.getloadavg()[0]:.1f}, "
          f"{time.time() - t0:.0f} s")
    print(f"baseline: {parse_protocol(args.baseline).describe()}")
    print(f"ours:     {ours.describe()}")
    print(f"{'proxy':<10} {'baseline s':>10} {'ours s':>8} {'ratio':>6} {'agree':>6} {'tau base':>8} {'tau ours':>8}")
    nan = float("nan")
    for p in proxies:
        b = res_b.get(p, nan)
        agree = correlation(val_o[p], val_b[p])["kendall_tau"] if p in val_b else nan
        tb = correlation(val_b[p], acc)["kendall_tau"] if p in val_b else nan
        to = correlation(val_o[p], acc)["kendall_tau"]
        print(f"{p:<10} {b:>10.3f} {res_o[p]:>8.3f} {b / res_o[p] if res_o[p] > 0 else nan:>6.1f} "
              f"{agree:>6.2f} {tb:>8.2f} {to:>8.2f}"
              + (f"   failed {fail_o[p]}/{len(cells)}" if fail_o[p] else ""))
    print("tau: raw values (ntk: lower is better, so its tau is negative when it works)")
    sb, so = sum(res_b.values()), sum(res_o.values())
    print(f"{'sum':<10} {sb:>10.3f} {so:>8.3f} {sb / so if so else float('nan'):>6.1f}")
    print(f"1,000 cells on 2 workers: baseline ~{1000 * sb / 2 / 60:.0f} min, ours ~{1000 * so / 2 / 60:.0f} min")


if __name__ == "__main__":
    main()
