"""vkdnw's per-sample Jacobian: classes per batched backward pass (``chunk``), CPU seconds side by side, one thread.

    .venv/bin/python benchmarks/speed/bench_vkdnw_chunk.py --cells 8 [--classes 10]

The same cells of the published protocol (C=16 N=5, 64 N(0,1) images, 128 weights), each timed with every
``chunk``. The rows are interleaved per cell, so machine load reaches every setting alike. The Jacobians must be equal.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    from tenas.correlate.presets import PUBLISHED
    from tenas.correlate.protocol import build, derive_seed, load_inputs, net_spec
    from tenas.indicators.zoo import vkdnw as V
    from tenas.indicators.zoo._common import generator, working_copy

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--chunks", default="10,5,2,1")
    ap.add_argument("--score-cell", action="store_true",
                    help="time the whole vkdnw_single proxy as tenas correlate runs it (score_cell), chunk set as default")
    args = ap.parse_args()
    torch.set_num_threads(1)
    chunks = [int(c) for c in args.chunks.split(",")]
    inputs = load_inputs("cifar10", None, 0, PUBLISHED, need_crops=False)
    x, _ = inputs.for_proxy("vkdnw_single", PUBLISHED)
    cells = np.random.default_rng(0).choice(15625, args.cells, replace=False)
    secs = {c: [] for c in chunks}
    if args.score_cell:
        from tenas.correlate.protocol import score_cell

        if args.classes != 10:
            raise SystemExit("--score-cell runs CIFAR-10 (10 classes)")
        default = V.jacobian_sensitivities.__defaults__
        try:
            for cell in cells:
                for c in chunks + chunks[::-1]:  # each setting before and after the others
                    V.jacobian_sensitivities.__defaults__ = (c,)
                    secs[c].append(score_cell(int(cell), ["vkdnw_single"], "cifar10", 0, PUBLISHED, inputs)[0][4])
        finally:
            V.jacobian_sensitivities.__defaults__ = default
        cells = []
    for cell in cells:
        net = working_copy(build(int(cell), net_spec("vkdnw_single", PUBLISHED), args.classes, 0), train=False)
        V.kaiming_init_(net, generator(derive_seed(0, int(cell), "proxy")))
        entries = V.selected_entries(net)
        V.jacobian_sensitivities(net, x[:2], entries)  # warm-up
        ref = None
        for c in chunks:
            t = time.process_time()
            jac, _ = V.jacobian_sensitivities(net, x, entries, chunk=c)
            secs[c].append(time.process_time() - t)
            ref = jac if ref is None else ref
            if not torch.equal(jac, ref):
                raise SystemExit(f"cell {cell}: chunk {c} changes the Jacobian")
    print(f"{args.cells} cells, {args.classes} classes, {'score_cell' if args.score_cell else 'the Jacobian alone'}, one thread, load {' '.join(f'{v:.1f}' for v in __import__('os').getloadavg())}")
    base = np.mean(secs[chunks[0]])
    for c in chunks:
        print(f"chunk {c:3d}: {np.mean(secs[c]):.2f} CPU-s per cell  (x{base / np.mean(secs[c]):.2f} vs chunk {chunks[0]})")


if __name__ == "__main__":
    main()
