"""grad_norm: the size of the loss gradient at initialisation (Abdelfattah et al., ICLR 2021).

Definition: one forward/backward of the cross-entropy loss on the batch, in train mode; score = sum over
conv/linear layers of the Euclidean norm of that layer's weight gradient. Higher is predicted better.
Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import check_targets, grads_of, logits, prunable_weights, borrowed


@register_proxy("grad_norm", higher_is_better=True,
                paper="Abdelfattah et al., 'Zero-Cost Proxies for Lightweight NAS', ICLR 2021")
def grad_norm(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, seed: int = 0) -> float:
    """sum over conv/linear layers of ||dL/dw||_2, L the cross-entropy on the batch."""
    targets = check_targets(targets, "grad_norm")
    with borrowed(model) as net:
        weights = prunable_weights(net)
        loss = F.cross_entropy(logits(net(inputs)), targets)
        grads = grads_of(loss, weights)
        return float(sum(g.norm() for g in grads))
