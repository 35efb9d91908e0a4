"""Training speed on this machine's CPU: NCHW (contiguous) against NHWC (channels-last) memory, side by side.

    .venv/bin/python benchmarks/speed/train_memory_format.py [--steps 6] [--threads N]

For each space's evaluation network at the size the short studies use, times ``Trainer.train_step`` (the real
training step: forward with the auxiliary head where there is one, backward, SGD) on one fixed batch of the
protocol's batch size, after one warm-up step, in both memory formats, and prints images/s and the ratio. The two
formats compute the same function (tests/test_train.py checks one step's loss and gradients against float64);
only the kernels differ.
"""

from __future__ import annotations

import argparse
import time

import torch

from tenas.data import ImageSet
from tenas.train import Trainer, build_model, protocol_for, resolve_arch

CASES = (  # (space, arch, channels, cells, label)
    ("darts", "DARTS_V2", 16, 8, "darts DARTS_V2, C16, 8 cells"),
    ("darts", "TENAS_CIFAR10", 16, 8, "darts TENAS_CIFAR10, C16, 8 cells"),
    ("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
     16, 5, "nb201 best-of-table cell, C16, N5"),
    ("macro", "22212220", None, None, "macro 22212220"),
)


def _images_per_s(space: str, arch: str, channels, cells, channels_last: bool, steps: int) -> float:
    protocol = protocol_for(space, "cifar10")
    torch.manual_seed(0)
    model = build_model(space, resolve_arch(space, arch), "cifar10", protocol, channels=channels, cells=cells)
    if hasattr(model, "drop_path_prob"):
        model.drop_path_prob = protocol.drop_path / 2
    gen = torch.Generator().manual_seed(0)
    n = protocol.batch_size
    data = ImageSet(torch.randint(0, 256, (n, 32, 32, 3), generator=gen, dtype=torch.uint8).numpy(),
                    torch.randint(0, 10, (n,), generator=gen).numpy(), "cifar10", 10, "random")
    trainer = Trainer(model, protocol, data, None, "/nonexistent-never-written", progress=False,
                      channels_last=channels_last)
    x = torch.randn(n, 3, 32, 32, generator=gen)
    y = torch.from_numpy(data.y).long()
    trainer.model.train()
    trainer.train_step(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(x, y)
    return steps * n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6, help="timed steps per case (default 6)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps per case")
    print(f"{'network':<40} {'NCHW img/s':>11} {'NHWC img/s':>11} {'NHWC / NCHW':>12}")
    for space, arch, channels, cells, label in CASES:
        nchw = _images_per_s(space, arch, channels, cells, False, args.steps)
        nhwc = _images_per_s(space, arch, channels, cells, True, args.steps)
        print(f"{label:<40} {nchw:11.1f} {nhwc:11.1f} {nhwc / nchw:11.2f}x", flush=True)


if __name__ == "__main__":
    main()
