"""Parameters and FLOPs of NAS-Bench-Macro networks, computed analytically (no network is built).

The benchmark's conventions: params count every parameter (convolutions, BatchNorm weight and bias,
the classifier's weight and bias); FLOPs are multiply-accumulates per image of every ``Conv2d``
(in x out x H_out x W_out x k x k / groups) plus the classifier's in x out. Both are additive over layers:
a network's cost is a base (stem and head) plus the chosen op's cost on each layer (:func:`layer_costs`).
"""

from __future__ import annotations

import functools

import numpy as np

from tenas.spaces.macro.strings import (
    HEAD_CHANNELS,
    IMAGE_CHANNELS,
    IR_SPECS,
    OP_NAMES,
    STAGE_CHANNELS,
    STEM_CHANNELS,
    ArchLike,
    layer_channels,
    parse_arch,
    scaled,
)

__all__ = ["params", "flops", "layer_costs"]

_Table = tuple[int, int, tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]


def _conv_out(size: int, kernel: int, stride: int) -> int:
    """Output side of a convolution with padding kernel // 2."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def _op_costs(name: str, c_in: int, c_out: int, stride: int, size: int) -> tuple[int, int]:
    """(params, FLOPs) of one op on an input of side ``size``."""
    if name == "identity":
        if stride == 1 and c_in == c_out:
            return 0, 0
        out = _conv_out(size, 1, stride)
        return c_in * c_out + 2 * c_out, c_in * c_out * out * out
    kernel, expansion = IR_SPECS[name]
    hidden = round(c_in * expansion)
    out = _conv_out(size, kernel, stride)
    n_params = c_in * hidden + hidden * kernel * kernel + hidden * c_out + 4 * hidden + 2 * c_out
    n_flops = c_in * hidden * size * size + (hidden * kernel * kernel + hidden * c_out) * out * out
    return n_params, n_flops


@functools.lru_cache(maxsize=64)
def _tables(num_classes: int, image_size: int, width: float) -> _Table:
    """(base params, base FLOPs, per-layer params rows, per-layer FLOPs rows) as plain ints."""
    c_stem, c_last, c_head = (scaled(c, width) for c in (STEM_CHANNELS, STAGE_CHANNELS[-1], HEAD_CHANNELS))
    size = _conv_out(image_size, 3, 1)
    base_params = IMAGE_CHANNELS * c_stem * 9 + 2 * c_stem
    base_flops = IMAGE_CHANNELS * c_stem * 9 * size * size
    layer_params, layer_flops = [], []
    for c_in, c_out, stride in layer_channels(width):
        costs = [_op_costs(name, c_in, c_out, stride, size) for name in OP_NAMES]
        layer_params.append(tuple(p for p, _ in costs))
        layer_flops.append(tuple(f for _, f in costs))
        size = _conv_out(size, 1, stride)
    base_params += c_last * c_head + 2 * c_head + c_head * num_classes + num_classes
    base_flops += c_last * c_head * size * size + c_head * num_classes
    return base_params, base_flops, tuple(layer_params), tuple(layer_flops)


def layer_costs(
    num_classes: int = 10, image_size: int = 32, *, width: float = 1.0
) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(base params, base FLOPs, (8, 3) int64 params per layer and op, (8, 3) int64 FLOPs per layer and op)."""
    base_params, base_flops, layer_params, layer_flops = _tables(num_classes, image_size, width)
    return base_params, base_flops, np.array(layer_params, dtype=np.int64), np.array(layer_flops, dtype=np.int64)


def params(arch: ArchLike, num_classes: int = 10, *, width: float = 1.0) -> int:
    """Parameter count of ``arch``'s network (every parameter, as the benchmark counts them)."""
    base, _, table, _ = _tables(num_classes, 32, width)
    return base + sum(row[d] for row, d in zip(table, parse_arch(arch)))


def flops(arch: ArchLike, num_classes: int = 10, image_size: int = 32, *, width: float = 1.0) -> int:
    """Multiply-accumulates per image of ``arch``'s network (convolutions and classifier)."""
    _, base, _, table = _tables(num_classes, image_size, width)
    return base + sum(row[d] for row, d in zip(table, parse_arch(arch)))
