"""Zen-score: expressivity of the pre-pooling features under a small input perturbation
(Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021).

Definition (data-free): re-initialise a copy with N(0, 1) conv/linear weights (zero biases, BN weight 1
and bias 0); draw Gaussian inputs x and e shaped like the batch; with f the features entering the last
global average pooling (the model's output when it has no ``nn.AdaptiveAvgPool2d``), in train mode,
score = ``log E_n ||f(x) - f(x + 0.01 e)||_1 + sum over BatchNorm layers of log sqrt(mean_c sigma_c^2)``
where sigma_c^2 is channel c's variance over the batch of input x (BN's own unbiased running_var with
momentum 1, i.e. exactly that batch's) plus the layer's eps: the paper's BN scaling factor. (The public
code reads ``running_var`` after the two forward passes at the default momentum.) Averaged over ``repeats`` draws.
Higher is predicted better. Randomness from ``seed`` only; works on a copy.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import NORMS, PRUNABLE, generator, logits, working_copy


def gaussian_init_(model: nn.Module, gen: torch.Generator) -> None:
    """Zen-NAS' initialisation: N(0, 1) conv/linear weights, zero biases, BN weight 1 / bias 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, PRUNABLE):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (*NORMS, nn.GroupNorm)) and getattr(m, "weight", None) is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()


@register_proxy("zen", higher_is_better=True, uses="shape",
                paper="Lin et al., 'Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition', ICCV 2021")
def zen(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
        mixup_gamma: float = 1e-2, repeats: int = 1) -> float:
    """log E||f(x) - f(x + gamma e)||_1 + sum log(BN scaling) on a Gaussian-initialised copy."""
    net = working_copy(model)
    gen = generator(seed)
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    norms = [m for m in net.modules() if isinstance(m, NORMS) and m.track_running_stats]
    for m in norms:
        m.momentum = 1.0  # running_var := the (unbiased) variance of the last batch, computed by BN itself
    feats: list[torch.Tensor] = []
    handle = pools[-1].register_forward_pre_hook(lambda _m, inp: feats.append(inp[0])) if pools else None
    scores = []
    try:
        with torch.no_grad():
            for _ in range(repeats):
                gaussian_init_(net, gen)
                x = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype)
                e = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype)
                feats.clear()
                out = logits(net(x))
                f1 = feats[-1] if pools else out
                log_bn = sum(0.5 * math.log(float(m.running_var.mean()) + m.eps) for m in norms)
                feats.clear()
                out2 = logits(net(x + mixup_gamma * e))
                f2 = feats[-1] if pools else out2
                delta = float((f1 - f2).abs().reshape(len(x), -1).sum(1).mean())
                scores.append((math.log(delta) if delta > 0 else -math.inf) + log_bn)
    finally:
        if handle is not None:
            handle.remove()
    return float(sum(scores) / len(scores))
