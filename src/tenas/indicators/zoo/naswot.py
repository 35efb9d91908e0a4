"""NASWOT: the log-determinant of the Hamming-similarity kernel of ReLU codes
(Mellor et al., "Neural Architecture Search without Training", ICML 2021).

Definition: for each sample of the batch, its binary code c_i is the on/off pattern (x > 0) of every unit
entering every ``nn.ReLU`` module; ``K[i, j]`` = number of units on which c_i and c_j agree
(= N_units - Hamming distance); score = ``log |det K|`` (``slogdet``). Higher is predicted better (codes
that separate the samples). Computed per ReLU layer as ``c c^T + (1-c)(1-c)^T`` and summed in float64.
Forward in train mode under ``no_grad``; the caller's BatchNorm statistics and modes are restored. A singular K gives ``-inf`` (a failed measurement).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import borrowed, hooked_forward


def hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """``K[i, j]`` = number of positions where binary rows i and j agree (float64)."""
    c = codes.reshape(len(codes), -1).to(torch.float32)
    ones = c.sum(1, dtype=torch.float64)
    both_on = (c @ c.T).to(torch.float64)  # exact: per-layer counts stay far below 2**24
    n = c.shape[1]
    return both_on + (n - ones[:, None] - ones[None, :] + both_on)


@register_proxy("naswot", higher_is_better=True,
                paper="Mellor et al., 'Neural Architecture Search without Training', ICML 2021")
def naswot(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0) -> float:
    """log|det K_H| of the Hamming kernel of the batch's ReLU codes."""
    with borrowed(model) as net:
        n = len(inputs)
        kernel = torch.zeros(n, n, dtype=torch.float64)

        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
            kernel.add_(hamming_kernel((out.detach() > 0).reshape(n, -1)))

        relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
        if not relus:
            raise ValueError("naswot needs nn.ReLU modules in the model (functional relu cannot be hooked)")
        hooked_forward(net, relus, hook, inputs)
        _sign, logdet = np.linalg.slogdet(kernel.numpy())
        return float(logdet)
