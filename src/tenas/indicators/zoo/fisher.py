"""Fisher: the Fisher-information pruning saliency of Theis et al. 2018 / Turner et al. (BlockSwap), ICLR 2020,
summed over the network as a NAS proxy (Abdelfattah et al., ICLR 2021).

Definition: for every conv/linear layer output ``a`` (N x C x ...) and ``dL/da`` (cross-entropy on the
batch, train mode), the per-channel saliency ``0.5 * mean_n (sum_spatial a * dL/da)^2``; score = its sum
over channels and layers. Higher is predicted better. Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import check_targets, grads_of, logits, prunable_layers, borrowed


@register_proxy("fisher", higher_is_better=True,
                paper="Theis et al., 'Faster gaze prediction with dense networks and Fisher pruning', 2018; "
                      "Turner et al., 'BlockSwap', ICLR 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021")
def fisher(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, seed: int = 0) -> float:
    """sum over conv/linear output channels of 0.5 * E_n[(sum_spatial a * dL/da)^2]."""
    targets = check_targets(targets, "fisher")
    with borrowed(model) as net:
        acts: list[torch.Tensor] = []
        handles = [m.register_forward_hook(lambda _m, _i, out: acts.append(out)) for m in prunable_layers(net)]
        try:
            loss = F.cross_entropy(logits(net(inputs)), targets)
        finally:
            for h in handles:
                h.remove()
        live = [a for a in acts if a.requires_grad]
        if not live:
            return 0.0
        grads = grads_of(loss, live)
        total = 0.0
        with torch.no_grad():
            for a, g in zip(live, grads):
                prod = a * g
                if prod.dim() > 2:
                    prod = prod.sum(dim=tuple(range(2, prod.dim())))
                total += float(0.5 * prod.pow(2).mean(0).sum())
        return total
