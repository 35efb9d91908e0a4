"""FLOPs: multiply-adds per image, the other cost baseline.

Raw value: millions of multiply-adds per image for an input shaped like one image of the batch, counted
under NAS-Bench-201's convention (conv and linear layers only; see :mod:`tenas.spaces.flops`, whose
counter this proxy uses). Higher is predicted better. Baseline as reported by Li et al. (ZiCo), ICLR 2023.
"""

from __future__ import annotations

import torch
from torch import nn

from tenas.indicators.registry import register_proxy


@register_proxy("flops", higher_is_better=True, uses="shape",
                paper="baseline; see Li et al., 'ZiCo', ICLR 2023 (NB201 conventions: Dong & Yang, ICLR 2020)")
def flops(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0) -> float:
    """Per-image MFLOPs of ``model`` on inputs shaped like ``inputs[0]`` (the model is not changed)."""
    from tenas.spaces.flops import count_flops

    return float(count_flops(model, (1, *inputs.shape[1:])))
