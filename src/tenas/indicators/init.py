"""Re-initialisation as TE-NAS does it, deterministic from a ``torch.Generator``, and the repeat wrapper.

TE-NAS measures each network at several random initialisations and averages: Kaiming-normal weights
(``fan_out`` for the NTK, which is a backward quantity; ``fan_in`` for linear regions, a forward one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import math

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["kaiming_init_", "default_init_", "init_weights_", "repeat_indicator", "repeat_seed"]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@torch.no_grad()
def kaiming_init_(model: nn.Module, mode: str = "fan_out", generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise ``model`` in place as TE-NAS does; returns it.

    * ``Conv1d/2d/3d`` and ``Linear`` weights: ``kaiming_normal_(mode=mode, nonlinearity="relu")``, biases 0;
    * BatchNorm (any ``_BatchNorm``) and GroupNorm with affine parameters: weight 1, bias 0 (running statistics
      untouched).

    Modules are visited in ``model.modules()`` order and the values are drawn on the CPU from ``generator``
    (the global RNG if None) and then copied to the weight's device and dtype, so the same generator state
    gives the same weights on any device. Other modules are left as they are.
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    for m in model.modules():
        if isinstance(m, _WEIGHTED):
            w = m.weight
            draw = torch.empty(w.shape, dtype=torch.float32)
            nn.init.kaiming_normal_(draw, mode=mode, nonlinearity="relu", generator=generator)
            w.copy_(draw)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (_BatchNorm, nn.GroupNorm)) and m.affine:
            m.weight.fill_(1.0)
            m.bias.zero_()
    return model


@torch.no_grad()
def default_init_(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Re-draw PyTorch's own default initialisation in place (what a freshly built network has); returns it.

    The same values as calling ``reset_parameters()`` on every module in ``model.modules()`` order after
    ``torch.manual_seed``, but drawn from ``generator``:

    * ``Conv1d/2d/3d`` and ``Linear``: weight ``kaiming_uniform_(a=sqrt(5))`` (uniform in +-1/sqrt(fan_in)),
      bias uniform in +-1/sqrt(fan_in);
    * BatchNorm: running statistics reset (mean 0, variance 1, no batches), affine weight 1, bias 0.

    This is the weight distribution the official TE-NAS code measures, since its launcher's ``--init`` never
    matches a re-initialisation branch. Values are drawn on the CPU in float32 and copied to each tensor.
    """
    for m in model.modules():
        if isinstance(m, _WEIGHTED):
            w = m.weight
            draw = torch.empty(w.shape, dtype=torch.float32)
            nn.init.kaiming_uniform_(draw, a=math.sqrt(5), generator=generator)
            w.copy_(draw)
            if m.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                draw = torch.empty(m.bias.shape, dtype=torch.float32)
                nn.init.uniform_(draw, -bound, bound, generator=generator)
                m.bias.copy_(draw)
        elif isinstance(m, _BatchNorm):
            if m.track_running_stats:
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
                m.num_batches_tracked.zero_()
            if m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
    return model


#: ``init_weights_`` kinds.
INIT_KINDS = ("kaiming", "default")


def init_weights_(model: nn.Module, kind: str, seed: int, mode: str = "fan_out") -> nn.Module:
    """Initialise ``model`` in place from a generator seeded ``seed``: ``kind`` ``"kaiming"`` (Kaiming normal,
    ``mode``) or ``"default"`` (PyTorch's own, :func:`default_init_`)."""
    g = torch.Generator().manual_seed(int(seed))
    if kind == "kaiming":
        return kaiming_init_(model, mode=mode, generator=g)
    if kind == "default":
        return default_init_(model, generator=g)
    raise ValueError(f"unknown initialisation {kind!r}; choose from {', '.join(INIT_KINDS)}")


def repeat_seed(seed: int, repeat: int) -> int:
    """The generator seed of repeat ``repeat`` of a measurement seeded ``seed`` (independent streams)."""
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF, int(repeat)]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def repeat_indicator(
    fn: Callable[[nn.Module, Any], float],
    model: nn.Module,
    inputs: Any,
    repeats: int = 3,
    seed: int = 0,
    mode: str = "fan_out",
) -> tuple[float, list[float]]:
    """``fn(model, inputs)`` at ``repeats`` fresh initialisations; returns ``(mean, per-repeat values)``.

    Before repeat ``r`` the model is re-initialised **in place** with :func:`kaiming_init_` from a generator
    seeded :func:`repeat_seed(seed, r) <repeat_seed>` (so its weights are changed; pass a copy to keep them).
    The mean of values that include ``inf`` is ``inf`` (a failed NTK at one initialisation is not averaged away).
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    values: list[float] = []
    for r in range(int(repeats)):
        g = torch.Generator().manual_seed(repeat_seed(seed, r))
        kaiming_init_(model, mode=mode, generator=g)
        values.append(float(fn(model, inputs)))
    return float(np.mean(values)), values
