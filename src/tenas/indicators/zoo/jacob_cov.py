"""jacob_cov: the correlation of input Jacobians across a batch (Mellor et al., "Neural Architecture Search
without Training", arXiv:2006.04647 v1, 2020; as used by Abdelfattah et al., ICLR 2021).

Definition: J_i = d(sum of the logits of sample i)/d(input i), flattened, for every sample of the batch
(train mode); C = their correlation matrix (N x N); with v its eigenvalues and k = 1e-5,
score = ``-sum(log(v + k) + 1/(v + k))``. Higher is predicted better (less correlated Jacobians).
Eigenvalues are clipped at 0 (C is positive semi-definite; rounding can make them -1e-17). A network whose
output does not depend on its input (NAS-Bench-201 cells with no path from input to output) has constant
Jacobians: C is undefined and the proxy returns NaN. Runs on the caller's model and restores its BatchNorm statistics, modes and flags afterwards.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import logits, borrowed

K = 1e-5


def correlation_score(jacobians: np.ndarray, k: float = K) -> float:
    """``-sum(log(v + k) + 1/(v + k))`` for the eigenvalues v of the rows' correlation matrix (NaN if undefined)."""
    jac = np.asarray(jacobians, dtype=np.float64).reshape(len(jacobians), -1)
    with np.errstate(all="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return float("nan")
    v = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    return float(-np.sum(np.log(v + k) + 1.0 / (v + k)))


@register_proxy("jacob_cov", higher_is_better=True,
                paper="Mellor et al., 'Neural Architecture Search without Training', arXiv:2006.04647v1, 2020; "
                      "as a NAS proxy: Abdelfattah et al., ICLR 2021")
def jacob_cov(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0) -> float:
    """Correlation score of the per-sample input Jacobians of the summed logits."""
    with borrowed(model) as net:
        for p in net.parameters():
            p.requires_grad_(False)
        x = inputs.detach().clone().requires_grad_(True)
        out = logits(net(x))
        if not out.requires_grad:
            return float("nan")
        (jac,) = torch.autograd.grad(out.sum(), x)
        return correlation_score(jac.reshape(len(x), -1).double().cpu().numpy())
