"""ZiCo: the inverse coefficient of variation of gradients (Li, Yang, Bhardwaj & Marculescu, ICLR 2023).

Definition: split the batch into ``splits`` (default 2) sub-batches; for each, the cross-entropy weight
gradients of every conv/linear layer (train mode). Per layer, with mean |g| and std(g) taken over the
sub-batches for each weight (population std), and the weights whose std is 0 left out:
score = sum over layers of ``log(sum_w mean|g_w| / std(g_w))`` (layers whose sum is 0 are skipped).
Higher is predicted better. Gradients are zeroed between sub-batches, as the paper defines them (the
public code accumulates them across batches). Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import check_targets, grads_of, logits, prunable_weights, borrowed


def zico_from_grads(per_layer: list[torch.Tensor]) -> float:
    """ZiCo from per-layer gradient stacks (splits x weights of the layer)."""
    total = 0.0
    for g in per_layer:
        g = g.reshape(len(g), -1).to(torch.float64)
        std = g.std(0, unbiased=False)
        mean_abs = g.abs().mean(0)
        keep = std != 0
        s = float((mean_abs[keep] / std[keep]).sum())
        if s > 0:
            total += math.log(s)
    return total


@register_proxy("zico", higher_is_better=True,
                paper="Li et al., 'ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients', ICLR 2023")
def zico(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, seed: int = 0,
         splits: int = 2) -> float:
    """sum over layers of log(sum mean|g| / std(g)) across ``splits`` sub-batches."""
    targets = check_targets(targets, "zico")
    if not 2 <= splits <= len(inputs):
        raise ValueError(f"zico needs 2 <= splits <= batch size, got splits={splits} for a batch of {len(inputs)}")
    with borrowed(model) as net:
        weights = prunable_weights(net)
        stacks: list[list[torch.Tensor]] = [[] for _ in weights]
        for xb, yb in zip(inputs.chunk(splits), targets.chunk(splits)):
            loss = F.cross_entropy(logits(net(xb)), yb)
            for stack, g in zip(stacks, grads_of(loss, weights)):
                stack.append(g.detach())
        return zico_from_grads([torch.stack(s) for s in stacks])
