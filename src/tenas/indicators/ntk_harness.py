"""The forward pass under measurement, shared by the NTK (:mod:`tenas.indicators.ntk`), its fixed-BN estimator
(:mod:`tenas.indicators.ntk_fixed_bn`) and the region count: buffers copied, inputs checked, TE-NAS' weights
selected, J J^T formed in float64. A module of its own so that those modules import it, not each other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["measuring", "expected_input", "check_inputs", "forward", "ntk_weights", "required_weights"]

#: Columns of J converted to float64 at a time when forming J J^T.
_COLUMN_BLOCK = 1 << 20


# --------------------------------------------------------------------------------------------------
# the forward pass under measurement (shared with regions.py)
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def measuring(model: nn.Module, train: bool = True) -> Iterator[dict[str, torch.Tensor]]:
    """Put ``model`` in train (or eval) mode and yield copies of its buffers for :func:`forward`.

    On exit every module's ``training`` flag is restored. The buffers themselves are never touched: forwards
    run through ``functional_call`` with the yielded copies, which absorb BatchNorm's running-statistics
    updates.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    model.train(train)
    try:
        yield buffers
    finally:
        for m, flag in modes:
            m.training = flag


def expected_input(model: nn.Module) -> str | None:
    """A description of the input the model's first conv/linear layer (registration order) expects."""
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            dims = ("L", "H, W", "D, H, W")[len(m.kernel_size) - 1]
            return f"(N, {m.in_channels}, {dims}) for its first layer {name or 'model'} ({type(m).__name__})"
        if isinstance(m, nn.Linear):
            return f"(N, ..., {m.in_features}) for its first layer {name or 'model'} (Linear)"
    return None


def check_inputs(inputs: object) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor batch (N, ...), got {type(inputs).__name__}")
    if inputs.ndim == 0:
        raise ValueError("inputs must be a batch with a leading batch dimension (N, ...), got a scalar")
    if inputs.shape[0] == 0:
        raise ValueError(f"inputs is an empty batch (shape {tuple(inputs.shape)}); need at least one sample")
    return inputs


def forward(model: nn.Module, buffers: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """``model(inputs)`` with ``buffers`` in place of its own; the logits (last tensor of a tuple output).

    Errors of the forward pass become ``ValueError`` naming the input shape and, if it can be told, the
    shape the model expects. The output must keep the batch dimension.
    """
    n = inputs.shape[0]
    try:
        out = torch.func.functional_call(model, buffers, (inputs,), strict=False)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        text = str(err)
        if "more than 1 value per channel" in text:
            raise ValueError(
                f"the model has a train-mode normalisation layer that cannot take a batch of {n} "
                f"(inputs of shape {tuple(inputs.shape)}): BatchNorm in train mode needs more than one value "
                f"per channel -- use a batch of at least 2 samples. ({text})"
            ) from err
        hint = expected_input(model)
        expect = f"; the model expects {hint}" if hint else ""
        raise ValueError(
            f"the model's forward pass failed on inputs of shape {tuple(inputs.shape)}{expect}: "
            f"{type(err).__name__}: {text}"
        ) from err
    if isinstance(out, (tuple, list)) and out and isinstance(out[-1], torch.Tensor):
        out = out[-1]  # NAS-Bench-201's own networks return (features, logits)
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model's output must be a tensor (or a tuple ending in one), got {type(out).__name__}")
    if out.ndim == 0 or out.shape[0] != n:
        raise ValueError(
            f"the model's output has shape {tuple(out.shape)}, which does not keep the batch dimension of the "
            f"inputs ({n}); the inputs should be a batch (N, ...)"
            + (f" -- the model expects {expected_input(model)}" if expected_input(model) else "")
        )
    return out


# --------------------------------------------------------------------------------------------------
# the kernel
# --------------------------------------------------------------------------------------------------
def ntk_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The parameters TE-NAS differentiates: name contains ``"weight"`` and ``requires_grad``."""
    return [(name, p) for name, p in model.named_parameters() if "weight" in name and p.requires_grad]


def required_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """:func:`ntk_weights`, or a ``ValueError`` saying why there are none."""
    weights = ntk_weights(model)
    if not weights:
        raise ValueError(
            "the model has no parameter whose name contains 'weight' and that requires grad; "
            "the NTK of TE-NAS is taken with respect to those"
        )
    return weights



def _gram64(jac: torch.Tensor) -> torch.Tensor:
    """J J^T in float64, converting at most ``_COLUMN_BLOCK`` columns at a time."""
    m, p = jac.shape
    gram = torch.zeros((m, m), dtype=torch.float64, device=jac.device)
    for start in range(0, p, _COLUMN_BLOCK):
        block = jac[:, start:start + _COLUMN_BLOCK].to(torch.float64)
        gram.addmm_(block, block.T)
    return (gram + gram.T) * 0.5
