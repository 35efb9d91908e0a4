"""GraSP: gradient signal preservation (Wang et al., ICLR 2020), summed over the network as a NAS proxy.

Definition (Abdelfattah et al., ICLR 2021): with g = dL/dw (cross-entropy on the batch, train mode) and
H the Hessian of L, score ``sum over conv/linear weights of -w * (H g)``; ``H g`` is the gradient of
``g_detached . g`` (a Hessian-vector product by double backward). Higher is predicted better, the sign
convention under which zero-cost-nas reports its (positive) NAS-Bench-201 correlations. Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import check_targets, logits, prunable_weights, borrowed


@register_proxy("grasp", higher_is_better=True,
                paper="Wang et al., 'Picking winning tickets before training by preserving gradient flow', "
                      "ICLR 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021")
def grasp(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None, *, seed: int = 0) -> float:
    """sum of -w * (H g) over conv/linear weights (H: loss Hessian, g: loss gradient)."""
    targets = check_targets(targets, "grasp")
    with borrowed(model) as net:
        weights = prunable_weights(net)
        loss = F.cross_entropy(logits(net(inputs)), targets)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        pairs = [(w, g) for w, g in zip(weights, grads) if g is not None]
        if not pairs:
            return 0.0
        z = sum((g.detach() * g).sum() for _, g in pairs)
        if not z.requires_grad:  # gradients constant in w (e.g. a purely linear model with MSE-free loss)
            return 0.0
        hg = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True)
        with torch.no_grad():
            return float(sum((-w * h).sum() for (w, _), h in zip(pairs, hg) if h is not None))
