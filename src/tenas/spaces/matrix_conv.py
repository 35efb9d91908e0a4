"""Convolution of tiny images as one matrix product: what makes DARTS' linear-region count fast.

TE-NAS counts linear regions on 3x3 crops, so the DARTS thin supernet convolves 1,000 one-channel 3x3 (and,
after the reduction cell, 2x2) images per call, hundreds of calls per count. PyTorch's CPU convolution
kernels take ~0.2-0.9 ms for each of these; yet on an image of ``H*W`` pixels and ``C_in`` channels a
convolution is a linear map from ``C_in*H*W`` numbers to ``C_out*H'*W'``: a small matrix whose every entry is
one of the weights or zero (gathered by an index computed from the geometry), after which the whole batch is
one matrix product. Differentiable in input and weight; any stride, padding, dilation and groups.

:class:`MatrixConv2d` is an ``nn.Conv2d`` (same parameters, state dict and hooks) that takes this path when
the input is small (at most :data:`MAX_INPUTS` numbers per image) and the batch is larger than that, and is
``nn.Conv2d`` otherwise. The result equals ``nn.Conv2d``'s up to float rounding (the sums are taken in
another order).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["MatrixConv2d", "conv2d_as_matrix", "MAX_INPUTS"]

#: Largest ``C_in * H * W`` for which :class:`MatrixConv2d` uses the matrix product.
MAX_INPUTS = 64


def _matrix_index(conv: nn.Conv2d, h: int, w: int) -> tuple[np.ndarray, tuple[int, int]]:
    """For input images h x w: the index into ``[weight.flatten(), 0]`` of every entry of the convolution's
    matrix (rows ``C_in*h*w``, columns ``C_out*h'*w'``), and ``(h', w')``. Each (input pixel, output pixel,
    channel pair) is reached by at most one kernel tap, so every entry is one weight or zero."""
    co_n, cig_n, kh, kw = conv.weight.shape
    (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv.padding, conv.dilation
    ho_n, wo_n = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    co, cil, i, j, ho, wo = np.meshgrid(np.arange(co_n), np.arange(cig_n), np.arange(kh), np.arange(kw),
                                        np.arange(ho_n), np.arange(wo_n), indexing="ij")
    hi, wi = ho * sh - ph + i * dh, wo * sw - pw + j * dw
    ci = (co // (co_n // conv.groups)) * cig_n + cil
    inside = (hi >= 0) & (hi < h) & (wi >= 0) & (wi < w)
    index = np.full((conv.in_channels * h * w, co_n * ho_n * wo_n), conv.weight.numel(), dtype=np.int64)
    rows = (ci * h + hi) * w + wi
    cols = (co * ho_n + ho) * wo_n + wo
    taps = ((co * cig_n + cil) * kh + i) * kw + j
    index[rows[inside], cols[inside]] = taps[inside]
    return index, (ho_n, wo_n)


def conv2d_as_matrix(conv: nn.Conv2d, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
    """``conv(x)`` for ``x`` of shape (N, C_in, H, W) (zero padding given as numbers), computed as
    ``x.flatten(1) @ M`` with ``M`` the convolution's matrix on H x W images, gathered from the weights.
    ``cache``: a dict that keeps the gather index per geometry between calls."""
    n, c, h, w = x.shape
    key = (h, w, tuple(conv.weight.shape), conv.stride, conv.padding, conv.dilation, conv.groups, x.device)
    found = cache.get(key) if cache is not None else None
    if found is None:
        index, out_size = _matrix_index(conv, h, w)
        found = (torch.as_tensor(index, device=x.device), out_size)
        if cache is not None:
            cache[key] = found
    index, (ho, wo) = found
    weights = torch.cat([conv.weight.reshape(-1), conv.weight.new_zeros(1)])
    matrix = weights[index]
    out = x.reshape(n, c * h * w) @ matrix
    out = out.reshape(n, conv.out_channels, ho, wo)
    if conv.bias is not None:
        out = out + conv.bias[:, None, None]
    return out


class MatrixConv2d(nn.Conv2d):
    """``nn.Conv2d`` computed by :func:`conv2d_as_matrix` on small inputs (see module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4 and self.padding_mode == "zeros" and not isinstance(self.padding, str):
            size = x.shape[1] * x.shape[2] * x.shape[3]
            if size <= MAX_INPUTS and x.shape[0] > size and x.shape[1] == self.in_channels:
                cache = self.__dict__.setdefault("_matrix_index_cache", {})
                return conv2d_as_matrix(self, x, cache)
        return super().forward(x)
