"""Alive masks as op weights: the weighted forward of an averaging supernet (every op run, ``w * op(x)``
summed) equals its masked forward when ``w = alive / (alive ops on the edge)`` and ``none`` weighs 0."""

from __future__ import annotations

import numpy as np

__all__ = ["mean_of_alive"]


def mean_of_alive(alive: np.ndarray, none_index: int) -> np.ndarray:
    """float32 weights of ``alive`` (..., ops): each edge averages its alive ops (``none`` counted, weighted 0)."""
    mask = np.asarray(alive, dtype=bool)
    count = mask.sum(axis=-1, keepdims=True)
    w = np.where(mask, 1.0 / np.maximum(count, 1), 0.0).astype(np.float32)
    w[..., none_index] = 0.0
    return w
