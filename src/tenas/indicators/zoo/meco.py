"""MeCo: the minimum eigenvalue of the channel correlation matrices of the feature maps
(Jiang, Wang & Bie, "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of
Correlation", NeurIPS 2023).

Definition: one forward pass; for every module whose output is a 4-D tensor ``(batch, C, H, W)`` with
``C > 1``, take the *first sample's* feature map reshaped to ``(C, H*W)``, its Pearson correlation matrix
over channels (``torch.corrcoef``: C x C, each channel's H*W values as the observations), set NaN/inf
entries to 0 (a constant channel gives a NaN row and column, so a zero row, column and diagonal entry),
and take the smallest eigenvalue; score = the sum over modules. Higher is predicted better.

What the official code does (github.com/HamsterMimi/MeCo, ``correlation/NAS_Bench_201.py``, the NB201
script, measure ``meco``): a forward hook on *every* module of ``net.named_modules()`` -- the root, every
container and every leaf, so a wrapper whose output is its last child's output counts that tensor again
(the sum depends on the module hierarchy); the hook takes ``data_output[0]``, reshapes it to
``(shape[0], -1)``, applies ``torch.corrcoef``, zeroes NaN/inf, takes ``min(real(torch.linalg.eig(corr)))``
(no factor: the channel count multiplies only the 8-channel estimate of ``meco_opt``, ``* C / 8``); NaN
and inf per-module values are dropped and the rest summed. Non-4-D outputs contribute 0 there (the
logits ``(1, K)`` become K variables with one observation each: an all-NaN, hence zero, matrix), so
skipping them, as here, gives the same sum; a single-channel 4-D output gives a 0-d correlation that
``eig`` rejects there, and is skipped here; tuple outputs are skipped here. The network is the
zero-cost-nas NAS-Bench-201 model (C=16, N=5, cell BatchNorm without affine or running statistics),
PyTorch's default initialisation (``--init_w_type none``), freshly built hence in train mode (BatchNorm
on the batch's statistics), seed 42, and the input is ONE CIFAR-10 training image (``--batch_size 1``:
the first batch of a shuffled training loader, random crop with 4-pixel padding and horizontal flip,
normalised, 32 x 32); the copy of the measure under ``correlation/foresight/pruners/measures/meco.py``
instead replaces the input by ``torch.randn(1, 3, 64, 64)``. Here ``inputs`` is used as given (the caller
chooses it; the whole batch is forwarded and sample 0 is read), in train mode under ``no_grad``, with the
caller's BatchNorm statistics and modes restored. The correlation and its eigenvalues are computed in
float64 with the symmetric solver (``eigvalsh``) rather than float32 ``eig``: the same values up to
float32 rounding. No module with a 4-D output of more than one channel: ``ValueError``.
"""

from __future__ import annotations

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import borrowed, hooked_forward


def min_corr_eigenvalue(feature: torch.Tensor) -> float:
    """Smallest eigenvalue of the NaN/inf-zeroed channel correlation matrix of one ``(C, H, W)`` feature map."""
    rows = feature.detach().reshape(feature.shape[0], -1).to(torch.float64)
    if rows.shape[1] < 2:  # one observation per channel: every entry is NaN, hence 0
        return 0.0
    corr = torch.nan_to_num(torch.corrcoef(rows), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


@register_proxy("meco", higher_is_better=True,
                paper="Jiang et al., 'MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum "
                      "Eigenvalue of Correlation', NeurIPS 2023")
def meco(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0) -> float:
    """Sum over modules of the minimum eigenvalue of sample 0's channel correlation matrix."""
    with borrowed(model) as net:
        values: list[float] = []

        def hook(_m: nn.Module, _inp: tuple, out: object) -> None:
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[1] > 1:
                values.append(min_corr_eigenvalue(out[0]))

        hooked_forward(net, list(net.modules()), hook, inputs)
        if not values:
            raise ValueError("meco needs modules with 4-D outputs of more than one channel (feature maps)")
        return float(sum(values))
