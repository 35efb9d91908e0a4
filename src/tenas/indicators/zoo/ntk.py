"""TE-NAS kappa_N: the condition number of the neural tangent kernel at initialisation
(Chen, Gong & Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically Inspired
Perspective", ICLR 2021).

Definition: on a copy re-initialised as TE-NAS does (Kaiming normal, ``fan_out``; ``init=None`` keeps the
model's weights), in train mode, the NTK Theta = J J^T of the batch (J: per-sample gradients of the summed
logits w.r.t. the weights) and kappa = lambda_max / lambda_min, computed by
:func:`tenas.indicators.ntk.ntk_condition_number`. Raw value: kappa; **lower is predicted better**
(a well-conditioned NTK trains fast), so ``oriented = -kappa``. The TE-NAS paper reports Kendall tau of
-0.42 between kappa_N and NAS-Bench-201 CIFAR-100 accuracy.
"""

from __future__ import annotations

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import generator, working_copy


@register_proxy("ntk", higher_is_better=False,
                paper="Chen, Gong & Wang, 'Neural Architecture Search on ImageNet in Four GPU Hours: "
                      "A Theoretically Inspired Perspective', ICLR 2021")
def ntk(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
        init: str | None = "fan_out") -> float:
    """kappa_N = lambda_max / lambda_min of the NTK on the batch (lower is better)."""
    from tenas.indicators.ntk import ntk_condition_number

    net = working_copy(model)
    if init is not None:
        from tenas.indicators.init import kaiming_init_

        kaiming_init_(net, mode=init, generator=generator(seed))
    return float(ntk_condition_number(net, inputs))
