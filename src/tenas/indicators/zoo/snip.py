"""SNIP: connection sensitivity (Lee et al., ICLR 2019), summed over the network as a NAS proxy.

Definition (Abdelfattah et al., ICLR 2021): one forward/backward of the cross-entropy loss on the batch,
in train mode; score ``sum over conv/linear weights of |w * dL/dw|``. Higher is predicted better.
Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import check_targets, grads_of, logits, prunable_weights, borrowed


@register_proxy("snip", higher_is_better=True,
                paper="Lee et al., 'SNIP: Single-shot network pruning based on connection sensitivity', "
                      "ICLR 2019; as a NAS proxy: Abdelfattah et al., ICLR 2021")
def snip(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, seed: int = 0) -> float:
    """sum |w * dL/dw| over conv/linear weights, L the cross-entropy on the batch."""
    targets = check_targets(targets, "snip")
    with borrowed(model) as net:
        weights = prunable_weights(net)
        loss = F.cross_entropy(logits(net(inputs)), targets)
        grads = grads_of(loss, weights)
        with torch.no_grad():
            return float(sum((w * g).abs().sum() for w, g in zip(weights, grads)))
