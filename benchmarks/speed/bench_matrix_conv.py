"""R_N of the DARTS thin supernet (TE-NAS' 3,000 one-channel 3x3 crops, 3 chunks of 1,000), with the DARTS
ops' convolutions as matrix products (:class:`tenas.spaces.matrix_conv.MatrixConv2d`, the default) vs
torch's convolution kernels (the same modules with the matrix path switched off), alternating, in one process,
one thread (as a search worker runs). Prints the best and median time of each, the ratio, and both counts
(they must agree: the two compute the same function up to float rounding).

    .venv/bin/python benchmarks/speed/bench_matrix_conv.py [--calls 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    import tenas.spaces.matrix_conv as matrix_conv
    from tenas.indicators.init import kaiming_init_
    from tenas.indicators.regions import count_linear_regions
    from tenas.spaces.darts import DartsSearchSpace

    torch.set_num_threads(1)
    space = DartsSearchSpace()
    net = space.region_network(space.initial_alive())
    g = torch.Generator().manual_seed(args.seed)
    kaiming_init_(net, mode="fan_in", generator=g)
    crops = torch.randn(3000, 1, 3, 3, generator=g)
    limit = matrix_conv.MAX_INPUTS
    configs = {"matrix products (default)": limit, "torch conv kernels": 0}
    times: dict[str, list[float]] = {name: [] for name in configs}
    counts: dict[str, int] = {}
    for call in range(args.calls + 1):
        for name, value in configs.items():
            matrix_conv.MAX_INPUTS = value
            t0 = time.perf_counter()
            counts[name] = count_linear_regions(net, crops, batch_size=1000)
            if call:  # the first call of each is a warm-up
                times[name].append(time.perf_counter() - t0)
    matrix_conv.MAX_INPUTS = limit
    print(f"R_N, DARTS thin supernet (all ops), 3,000 crops in chunks of 1,000, 1 thread, {args.calls} calls each")
    for name, ts in times.items():
        print(f"  {name:28s} best {min(ts):6.3f} s  median {statistics.median(ts):6.3f} s  R = {counts[name]}")
    a, b = (statistics.median(ts) for ts in times.values())
    print(f"  speed-up (median): {b / a:.2f}x; counts {'agree' if len(set(counts.values())) == 1 else 'DIFFER'}")


if __name__ == "__main__":
    main()
