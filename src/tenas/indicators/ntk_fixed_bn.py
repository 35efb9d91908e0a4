"""A cheaper estimator of kappa_N: the NTK with BatchNorm statistics held fixed at the batch's values.

TE-NAS' kernel (:mod:`tenas.indicators.ntk`) differentiates through BatchNorm's batch statistics, which
couples the samples: every row of the Jacobian needs its own backward pass over the whole batch (N passes).
Here the statistics are first measured on the batch (one no-grad forward in train mode: per channel the
mean and the biased variance of each BatchNorm's input, exactly what train mode normalises with), then
held constant. The network's output on sample ``i`` is then a function of sample ``i`` alone, with the
same value as in train mode, and the rows of ``J`` are per-sample gradients: one ``torch.func.vmap``-ed
backward pass computes them all.

This is **not** TE-NAS' kernel (the gradient terms through the statistics are dropped), so its kappa differs;
it is offered as a named option for the search (``tenas search --kappa fixed-bn``) with its agreement with
the exact kernel measured in ``benchmarks/studies/kappa_estimators.py``. Without BatchNorm layers the two kernels
are the same.

Requirements: every BatchNorm module tracks running statistics (the fixed values are passed to it as its
running statistics in eval mode) and is called at most once per forward. Other modules stay in train mode
(dropout draws differently per sample).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tenas.indicators.ntk_harness import _gram64, check_inputs, forward, measuring, required_weights

__all__ = ["batch_statistics", "fixed_bn_ntk"]


def _batchnorms(model: nn.Module) -> list[tuple[str, _BatchNorm]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, _BatchNorm)]


def batch_statistics(model: nn.Module, inputs: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per BatchNorm module (by name): the (mean, biased variance) per channel of its input on ``inputs``,
    in train mode -- the statistics train mode normalises with. Modules not called are absent."""
    inputs = check_inputs(inputs)
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def capture(name: str):
        def hook(module, args):
            if name in stats:
                raise ValueError(f"bn='fixed' needs each BatchNorm module called once per forward; {name!r} "
                                 "was called again")
            z = args[0].detach()
            dims = [d for d in range(z.ndim) if d != 1]
            stats[name] = (z.mean(dims), z.var(dims, unbiased=False))
        return hook

    handles = [m.register_forward_pre_hook(capture(name)) for name, m in _batchnorms(model)]
    try:
        with measuring(model, train=True) as buffers, torch.no_grad():
            forward(model, buffers, inputs)
    finally:
        for h in handles:
            h.remove()
    return stats


def fixed_bn_ntk(model: nn.Module, inputs: torch.Tensor, *, kernel: str = "sum") -> torch.Tensor:
    """The empirical NTK (float64) with BatchNorm statistics fixed at the batch's values (module doc).

    ``kernel`` as in :func:`tenas.indicators.ntk.ntk_matrix`. Weights are the TE-NAS ones (name contains
    ``"weight"``, requires grad); the model's modes and buffers are left as they were.
    """
    inputs = check_inputs(inputs)
    bns = _batchnorms(model)
    missing = [name for name, m in bns if m.running_mean is None or m.running_var is None]
    if missing:
        raise ValueError(f"bn='fixed' needs BatchNorm layers that track running statistics; {missing[0]!r} does "
                         "not (track_running_stats=False)")
    weights = dict(required_weights(model))
    stats = batch_statistics(model, inputs)
    rest = {name: p.detach() for name, p in model.named_parameters() if name not in weights}
    with torch.enable_grad(), measuring(model, train=True) as buffers:
        for name, m in bns:
            m.training = False  # normalise with the (fixed) running statistics handed over below
            if name in stats:
                mean, var = stats[name]
                buffers[f"{name}.running_mean" if name else "running_mean"] = mean.to(m.running_mean.dtype)
                buffers[f"{name}.running_var" if name else "running_var"] = var.to(m.running_var.dtype)
        detached = {name: w.detach() for name, w in weights.items()}

        def output(ws: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            out = torch.func.functional_call(model, ({**ws, **rest}, buffers), (x.unsqueeze(0),), strict=False)
            if isinstance(out, (tuple, list)):
                out = out[-1]
            return out.sum() if kernel == "sum" else out.reshape(-1)

        per_sample = torch.func.grad(output) if kernel == "sum" else torch.func.jacrev(output)
        try:
            grads = torch.func.vmap(per_sample, in_dims=(None, 0), randomness="different")(detached, inputs)
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            forward(model, buffers, inputs)  # a clear message if the model cannot take these inputs at all
            raise ValueError(f"the per-sample gradients of bn='fixed' failed: {type(err).__name__}: {err}") from err
    # sum: g is (N, *shape); full: (N, C, *shape) -> rows sample-major
    jac = torch.cat([(g.flatten(0, 1) if kernel == "full" else g).flatten(1) for g in grads.values()], dim=1)
    if not bool(jac.any()):
        raise ValueError("the model's output does not depend on any of its weight parameters")
    return _gram64(jac)
