"""The NAS-Bench-201 operations as a small table of constructors (in the style of DARTS' ``operations.py``).

Every constructor takes ``(C_in, C_out, stride)``. Definitions follow the NAS-Bench-201 paper
(Dong & Yang, ICLR 2020): convolutions are ReLU-Conv-BN without bias, pooling is 3x3 with padding 1
(average pooling excludes the padding from the count).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BatchNorm."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out),
        )


class Pool(nn.Module):
    """3x3 average pooling (a 1x1 ReLU-Conv-BN first when the channel count changes)."""

    def __init__(self, C_in: int, C_out: int, stride: int):
        super().__init__()
        self.preprocess = None if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0)
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.pool(x)


class Zero(nn.Module):
    """The ``none`` op: an all-zero output of the right shape."""

    def __init__(self, C_in: int, C_out: int, stride: int):
        super().__init__()
        self.C_out, self.stride = C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros(n, self.C_out, (h + s - 1) // s, (w + s - 1) // s)


class Identity(nn.Module):
    """The ``skip_connect`` op when shapes agree."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _skip(C_in: int, C_out: int, stride: int) -> nn.Module:
    if stride != 1 or C_in != C_out:
        raise ValueError("NAS-Bench-201 cells only use skip_connect with stride 1 and equal channels")
    return Identity()


OPS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "none": lambda C_in, C_out, stride: Zero(C_in, C_out, stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride: ReLUConvBN(C_in, C_out, 1, stride, 0),
    "nor_conv_3x3": lambda C_in, C_out, stride: ReLUConvBN(C_in, C_out, 3, stride, 1),
    "avg_pool_3x3": lambda C_in, C_out, stride: Pool(C_in, C_out, stride),
}


class ResNetBasicBlock(nn.Module):
    """The residual block between NAS-Bench-201 stages: two ReLU-Conv-BN 3x3 and an avg-pool + 1x1 shortcut."""

    def __init__(self, C_in: int, C_out: int, stride: int = 2):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        if stride == 2:
            self.downsample: nn.Module | None = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(C_in, C_out, kernel_size=1, bias=False),
            )
        elif C_in != C_out:
            self.downsample = ReLUConvBN(C_in, C_out, 1, 1, 0)
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))
