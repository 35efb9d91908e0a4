"""SynFlow: the synaptic flow through the linearised network (Tanaka et al., NeurIPS 2020).

Definition (data-free), as used for NAS by Abdelfattah et al., ICLR 2021: take the network with every
parameter replaced by its absolute value and BatchNorm removed, feed one all-ones input in float64, let
``R`` be the sum of the outputs, and score ``sum over conv/linear weights of |w * dR/dw|``.
Higher is predicted better. BatchNorm is replaced by identity (as the zero-cost-nas code builds its
NAS-Bench-201 copies without BN): with one constant input, batch statistics would zero everything.
For a bias-free linear chain of L layers the value is exactly ``L * R`` (each layer is degree-1 in R).
Works on a copy; the caller's model is untouched.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import NORMS, grads_of, logits, prunable_weights


def _strip_norms(model: nn.Module) -> None:
    for name, child in list(model.named_children()):
        if isinstance(child, NORMS):
            setattr(model, name, nn.Identity())
        else:
            _strip_norms(child)


@register_proxy("synflow", higher_is_better=True, uses="shape",
                paper="Tanaka et al., 'Pruning neural networks without any data by iteratively conserving "
                      "synaptic flow', NeurIPS 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021")
def synflow(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
            keep_norms: bool = False) -> float:
    """sum |w * dR/dw| over conv/linear weights of the |w|, BN-free, float64 copy on a ones input."""
    net = copy.deepcopy(model)
    if not keep_norms:
        _strip_norms(net)
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
            p.requires_grad_(True)
    x = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64, device=inputs.device)
    out = logits(net(x))
    weights = prunable_weights(net)
    grads = grads_of(out.sum(), weights)
    with torch.no_grad():
        return float(sum((w * g).abs().sum() for w, g in zip(weights, grads)))
