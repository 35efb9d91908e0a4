"""FLOPs of a network, counted the way NAS-Bench-201 / NATS-Bench count them.

The benchmark's convention (``get_model_infos`` in its ``flop_benchmark.py``, also used by TE-NAS):

* ``Conv1d``/``Conv2d``: ``k * C_in * C_out / groups`` multiply-adds per output position (``k`` = kernel
  area), plus ``C_out`` per output position when the convolution has a bias;
* ``Linear``: ``in * out``, plus ``out`` when it has a bias;
* nothing else: batch norm, activations, pooling, additions and the cell's averaging are free;
* one multiply-add counts as one FLOP; the total is divided by the batch size (per-image figure) and
  reported in millions.

Only modules that actually run are counted (forward hooks), so an alive-masked supernet is charged
for its alive ops only, and a module called twice is charged twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["count_flops", "module_flops"]


def module_flops(module: nn.Module, inputs: tuple, output: torch.Tensor) -> float:
    """FLOPs of one call of ``module`` (whole batch) under the benchmark's convention; 0 if not counted."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        positions = output.numel() // output.shape[1]  # batch x spatial output positions
        kernel = 1
        for k in module.kernel_size:
            kernel *= k
        per_position = kernel * module.in_channels * module.out_channels / module.groups
        if module.bias is not None:
            per_position += module.out_channels
        return float(per_position * positions)
    if isinstance(module, nn.Linear):
        rows = output.numel() // module.out_features
        per_row = module.in_features * module.out_features
        if module.bias is not None:
            per_row += module.out_features
        return float(per_row * rows)
    return 0.0


def count_flops(model: nn.Module, input_size: Sequence[int] = (1, 3, 32, 32)) -> float:
    """Per-image FLOPs of ``model`` in millions (MFLOPs) for an input of shape ``input_size``.

    Runs one forward pass in eval mode under ``no_grad`` on a zero input of the model's dtype and
    device; the model's training mode is restored afterwards.
    """
    size = tuple(int(s) for s in input_size)
    if len(size) < 2 or any(s <= 0 for s in size):
        raise ValueError(f"input_size must be a shape (batch, channels, ...) of positive sizes, got {tuple(input_size)}")
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")

    total = [0.0]

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        total[0] += module_flops(module, inputs, output)

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, dtype=dtype, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0] / size[0] / 1e6
