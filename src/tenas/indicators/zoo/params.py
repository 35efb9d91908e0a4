"""#params: the number of parameters, the simplest baseline every zero-cost paper compares against.

Raw value: the number of parameters (all of them, as NAS-Bench-201 counts, BatchNorm included).
Bigger networks train to higher accuracy on NAS-Bench-201, so higher is predicted better.
Reference baseline as reported by e.g. Abdelfattah et al., ICLR 2021 and Li et al. (ZiCo), ICLR 2023.
"""

from __future__ import annotations

import torch
from torch import nn

from tenas.indicators.registry import register_proxy


@register_proxy("params", higher_is_better=True, uses="none",
                paper="baseline; see Abdelfattah et al., 'Zero-Cost Proxies for Lightweight NAS', ICLR 2021")
def params(model: nn.Module, inputs: torch.Tensor | None = None, targets: torch.Tensor | None = None,
           *, seed: int = 0, trainable_only: bool = False) -> float:
    """Number of parameters of ``model`` (``trainable_only``: those with ``requires_grad``)."""
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))
