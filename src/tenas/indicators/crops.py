"""TE-NAS' inputs for counting linear regions: random single-channel crops of real training images.

TE-NAS (``linear_region_counter.py``) feeds its thin network 3x3 random crops of normalised training
images, one random channel each (``RandomCrop(3)`` then ``RandChannel(1)``), 3,000 of them.
"""

from __future__ import annotations

import torch

__all__ = ["random_crops"]


def random_crops(images: torch.Tensor, n: int = 3000, size: int = 3, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` single-channel crops of ``images`` (N x C x H x W float): n x 1 x size x size.

    Each crop takes a random image, a random channel and a random position (uniform, independently, with
    replacement), drawn from ``generator`` (the global RNG if None) on the CPU in this order: all image
    indices, then all channels, then all rows, then all columns. Images should already be normalised.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"random_crops expects images as a tensor N x C x H x W, got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"random_crops expects float (normalised) images, got {images.dtype}")
    num, channels, height, width = images.shape
    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if int(size) < 1 or size > height or size > width:
        raise ValueError(f"crop size {size} does not fit images of size {height} x {width}")
    if num < 1:
        raise ValueError("random_crops needs at least one image")
    n, size = int(n), int(size)
    g = dict(generator=generator)
    img = torch.randint(num, (n,), **g)
    ch = torch.randint(channels, (n,), **g)
    top = torch.randint(height - size + 1, (n,), **g)
    left = torch.randint(width - size + 1, (n,), **g)
    offs = torch.arange(size)
    rows = (top[:, None] + offs)[:, :, None]  # n x size x 1
    cols = (left[:, None] + offs)[:, None, :]  # n x 1 x size
    dev = images.device
    crops = images[img[:, None, None].to(dev), ch[:, None, None].to(dev), rows.to(dev), cols.to(dev)]
    return crops.unsqueeze(1).contiguous()
