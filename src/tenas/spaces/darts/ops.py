"""The DARTS operations as a small table of constructors (Liu, Simonyan & Yang, ICLR 2019).

Every constructor takes ``(C, stride)``: inside a DARTS cell an op keeps the channel count and only the
edges leaving the two cell inputs of a reduction cell have stride 2. Definitions follow DARTS'
``operations.py`` (all batch norms affine, as in its evaluation network and in TE-NAS' supernet):

- ``sep_conv_kxk``: (ReLU, depthwise kxk, pointwise 1x1, BN) twice, the first with the edge's stride;
- ``dil_conv_kxk``: ReLU, depthwise kxk with dilation 2, pointwise 1x1, BN (once);
- ``max_pool_3x3`` / ``avg_pool_3x3``: 3x3 pooling, padding 1 (average excludes the padding); no BN;
- ``skip_connect``: identity, or :class:`FactorizedReduce` when the stride is 2;
- ``none``: zeros of the output shape.

The depthwise and pointwise convolutions are :class:`~tenas.spaces.matrix_conv.MatrixConv2d`: an
``nn.Conv2d`` (same parameters and function) that computes the tiny inputs of TE-NAS' linear-region count
(1,000 one-channel 3x3 crops per call) as one matrix product: the count is 1.85x faster
(``benchmarks/speed/bench_matrix_conv.py``).

One deliberate generalisation: :class:`FactorizedReduce` zero-pads its shifted path by one pixel
(bottom/right) instead of cropping, as TE-NAS' version does. On even inputs (all DARTS evaluation
networks) the result is identical to DARTS'; on odd inputs (TE-NAS' 3x3 linear-region crops) both paths
agree in size where DARTS' would not. It also accepts ``C_out = 1`` (TE-NAS' C=1 supernet), in which
case only the shifted path exists.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from tenas.spaces.matrix_conv import MatrixConv2d
from tenas.spaces.ops import Identity, ReLUConvBN, Zero

__all__ = ["OPS", "SepConv", "DilConv", "FactorizedReduce", "Identity", "Zero", "ReLUConvBN", "drop_path"]


class DilConv(nn.Sequential):
    """ReLU -> depthwise conv (``dilation``) -> pointwise 1x1 -> BN."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int):
        super().__init__(
            nn.ReLU(inplace=False),
            MatrixConv2d(C_in, C_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=C_in,
                         bias=False),
            MatrixConv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out),
        )


class SepConv(nn.Sequential):
    """Two stacked :class:`DilConv` blocks without dilation; only the first has the stride."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            DilConv(C_in, C_in, kernel, stride, padding, 1),
            DilConv(C_in, C_out, kernel, 1, padding, 1),
        )


class FactorizedReduce(nn.Module):
    """Stride-2 skip connection: ReLU, two 1x1 stride-2 convs (one on the input shifted by one pixel),
    channels concatenated, BN."""

    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        halves = (C_out // 2, C_out - C_out // 2)
        self.conv_1 = nn.Conv2d(C_in, halves[0], 1, stride=2, bias=False) if halves[0] > 0 else None
        self.conv_2 = nn.Conv2d(C_in, halves[1], 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        if self.conv_1 is None:
            out = self.conv_2(shifted)
        else:
            out = torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1)
        return self.bn(out)


def _skip(C: int, stride: int) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(C, C)


OPS: dict[str, Callable[[int, int], nn.Module]] = {
    "none": lambda C, stride: Zero(C, C, stride),
    "max_pool_3x3": lambda C, stride: nn.MaxPool2d(3, stride=stride, padding=1),
    "avg_pool_3x3": lambda C, stride: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda C, stride: SepConv(C, C, 3, stride, 1),
    "sep_conv_5x5": lambda C, stride: SepConv(C, C, 5, stride, 2),
    "dil_conv_3x3": lambda C, stride: DilConv(C, C, 3, stride, 2, 2),
    "dil_conv_5x5": lambda C, stride: DilConv(C, C, 5, stride, 4, 2),
}


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """DARTS' drop-path: zero whole samples with probability ``drop_prob``, rescale the rest by 1/keep.

    Draws from the global generator of ``x``'s device (one Bernoulli per sample), as DARTS does.
    """
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x / keep * mask
