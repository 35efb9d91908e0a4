"""TE-NAS' expressivity indicator R_N: the number of linear regions, counted as distinct ReLU patterns.

Definition (TE-NAS ``lib/procedures/linear_region_counter.py``, for any ``nn.Module``): forward the inputs
with the model in **train mode** (BatchNorm uses the statistics of each forwarded batch); an input's
activation pattern is the on/off state (``> 0``) of every output element of every ``nn.ReLU`` module, in
call order, concatenated; R is the number of distinct patterns. With ``batch_size`` the inputs are
forwarded in chunks of that size (TE-NAS: 3 chunks of 1,000 crops) -- BatchNorm statistics are then those
of each chunk -- and the patterns of all chunks are pooled before counting.

Differences from the TE-NAS code, none of which changes a count on its networks:

* TE-NAS hooks only ReLUs whose *input* is 4-D; here every ``nn.ReLU`` counts, so that MLPs work too (TE-NAS'
  rule would give them a single region). On NAS-Bench-201 and DARTS networks every ReLU sees 4-D input.
* TE-NAS counts with an n x n matrix product of the sign patterns (O(n^2) time and memory); here patterns
  are packed into bits (``np.packbits``) and the distinct rows counted by sorting, O(n log n).

Only ``nn.ReLU`` *modules* are seen (forward hooks): ``F.relu`` calls and other activations are not. A model
whose forward calls no ``nn.ReLU`` has one region (with a warning). The model is left as it was: modes are
restored and buffers are replaced by copies for the measurement (see :func:`tenas.indicators.ntk.measuring`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from tenas.indicators.ntk_harness import check_inputs, forward, measuring

__all__ = ["count_linear_regions", "activation_patterns"]


def activation_patterns(model: nn.Module, inputs: torch.Tensor, *, batch_size: int | None = None) -> np.ndarray:
    """The packed activation patterns: a uint8 array n x B, row i the bits of input i's pattern.

    Each ReLU call's pattern is packed separately (``np.packbits`` along the row, zero-padded to whole
    bytes) and the bytes concatenated, so two rows are equal exactly when the patterns are. B is 0 when no
    ``nn.ReLU`` ran.
    """
    inputs = check_inputs(inputs)
    n = inputs.shape[0]
    if batch_size is None:
        batch_size = n
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    batch_size = int(batch_size)

    captured: list[torch.Tensor] = []

    def hook(module, args, output):
        captured.append((output > 0).reshape(output.shape[0], -1))

    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_forward_hook(hook) for m in relus]
    from tenas._alloc import tune_allocator

    tune_allocator()
    chunks: list[np.ndarray] = []
    widths: list[int] | None = None
    try:
        with measuring(model, train=True) as buffers, torch.no_grad():
            for start in range(0, n, batch_size):
                captured.clear()
                part = inputs[start:start + batch_size]
                forward(model, buffers, part)
                masks = [c for c in captured if c.shape[0] == part.shape[0]]
                if len(masks) != len(captured):
                    raise ValueError("an nn.ReLU output does not keep the batch dimension of the inputs")
                if widths is None:
                    widths = [c.shape[1] for c in masks]
                elif widths != [c.shape[1] for c in masks]:
                    raise ValueError("the model's ReLU calls differ between input chunks; cannot compare patterns")
                packed = [np.packbits(c.cpu().numpy(), axis=1) for c in masks]
                chunks.append(np.concatenate(packed, axis=1) if packed else np.zeros((part.shape[0], 0), np.uint8))
    finally:
        for h in handles:
            h.remove()
        captured.clear()
    return np.ascontiguousarray(np.concatenate(chunks, axis=0))


def count_distinct_rows(rows: np.ndarray) -> int:
    """Number of distinct rows of a 2-D uint8 array (sort-based, O(n log n))."""
    rows = np.ascontiguousarray(rows)
    if rows.shape[0] == 0:
        return 0
    if rows.shape[1] == 0:
        return 1
    keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel()
    return int(np.unique(keys).shape[0])


def count_linear_regions(model: nn.Module, inputs: torch.Tensor, *, batch_size: int | None = None) -> int:
    """TE-NAS' R_N: the number of distinct ReLU activation patterns of ``model`` over ``inputs`` (see module doc).

    ``batch_size``: forward in chunks of this many inputs (BatchNorm statistics per chunk, as TE-NAS' 3 x
    1,000); None forwards everything at once. Returns 1, with a warning, if no ``nn.ReLU`` module ran.
    """
    patterns = activation_patterns(model, inputs, batch_size=batch_size)
    if patterns.shape[1] == 0:
        warnings.warn(
            "count_linear_regions: the model's forward pass ran no nn.ReLU module, so every input has the same "
            "(empty) activation pattern and the count is 1 (F.relu calls and other activations are not seen)",
            stacklevel=2,
        )
        return 1
    return count_distinct_rows(patterns)
