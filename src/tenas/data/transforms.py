"""Batch transforms in plain torch (no torchvision): every random choice comes from an explicit generator.

The training pipeline of NB201 / DARTS is reproduced on whole batches: random crop with zero padding
(the padded border is black, i.e. ``-mean/std`` once normalised), random horizontal flip, normalisation,
then cutout (a square set to 0 in normalised space).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tenas.data._base import ImageSet, _info


def normalization(data: str | ImageSet) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel in 0..1: an image set's own (own folders), else NB201's for the dataset name."""
    if isinstance(data, ImageSet):
        if data.mean is not None and data.std is not None:
            return tuple(data.mean), tuple(data.std)
        data = data.name
    info = _info(data)
    return info.mean, info.std


def black(data: str | ImageSet) -> tuple[float, ...]:
    """The normalised value of a black pixel, per channel: the fill of zero padding after normalisation."""
    mean, std = normalization(data)
    return tuple(-m / s for m, s in zip(mean, std))


def to_tensor(x: np.ndarray | torch.Tensor, data: str | ImageSet) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x 3 x H x W normalised with ``normalization(data)``."""
    t = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"to_tensor expects uint8 images N x H x W x 3, got {t.dtype} of shape {tuple(t.shape)}")
    mean, std = (torch.tensor(v, dtype=torch.float32, device=t.device).view(1, 3, 1, 1) for v in normalization(data))
    return (t.permute(0, 3, 1, 2).float().div_(255.0) - mean) / std


def augment(
    batch: torch.Tensor,
    generator: torch.Generator,
    padding: int,
    flip: bool = True,
    cutout: int = 0,
    fill: float | Sequence[float] = 0.0,
) -> torch.Tensor:
    """Random crop (pad by ``padding`` with ``fill``), random horizontal flip, cutout; N x C x H x W in and out."""
    if batch.ndim != 4:
        raise ValueError(f"augment expects a batch N x C x H x W, got shape {tuple(batch.shape)}")
    n, c, h, w = batch.shape
    dev = batch.device
    out = batch
    if padding > 0:
        fills = torch.as_tensor(fill, dtype=batch.dtype, device=dev).reshape(-1)
        if fills.numel() not in (1, c):
            raise ValueError(f"fill must be one value or {c} values, got {fills.numel()}")
        padded = fills.view(1, -1, 1, 1).expand(n, c, h + 2 * padding, w + 2 * padding).clone()
        padded[:, :, padding : padding + h, padding : padding + w] = batch
        offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator).to(dev)
        rows = (offsets[:, 0:1] + torch.arange(h, device=dev)).view(n, 1, h, 1)
        cols = (offsets[:, 1:2] + torch.arange(w, device=dev)).view(n, 1, 1, w)
        out = padded[torch.arange(n, device=dev).view(n, 1, 1, 1), torch.arange(c, device=dev).view(1, c, 1, 1), rows, cols]
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(dev).view(n, 1, 1, 1)
        out = torch.where(mirror, out.flip(-1), out)
    if cutout > 0:
        centre = torch.stack([torch.randint(0, h, (n,), generator=generator), torch.randint(0, w, (n,), generator=generator)], 1).to(dev)
        half = cutout // 2
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        cy, cx = centre[:, 0].view(n, 1, 1), centre[:, 1].view(n, 1, 1)
        hole = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half)
        out = out.masked_fill(hole.unsqueeze(1), 0.0)
    return out if out is not batch else batch.clone()
