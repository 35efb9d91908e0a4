"""Small helpers shared by the proxies: copies, prunable layers, logits, seeded generators."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

#: The layers whose weights the gradient-saliency proxies (snip, grasp, grad_norm, synflow, ZiCo) score,
#: as in Abdelfattah et al. 2021: convolutions and linear layers.
PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def working_copy(model: nn.Module, train: bool = True) -> nn.Module:
    """A deep copy of ``model`` (weights, buffers, mode) in train or eval mode, with no ``.grad``."""
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.grad = None
        p.requires_grad_(True)
    return clone.train(train)


@contextlib.contextmanager
def borrowed(model: nn.Module, train: bool = True) -> Iterator[nn.Module]:
    """Use ``model`` itself for forward/backward passes that do not change its weights, and put back on exit
    everything such passes do change: train/eval flags, buffers (BatchNorm running statistics and batch
    counters), ``requires_grad`` flags and ``.grad``. Much cheaper than :func:`working_copy` (a deep copy
    of a NAS-Bench-201 network costs about as much as a forward pass of a small one)."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    params = [(p, p.requires_grad, p.grad) for p in model.parameters()]
    model.train(train)
    for p in model.parameters():
        p.requires_grad_(True)
    try:
        yield model
    finally:
        for m, flag in modes:
            m.training = flag
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for p, req, grad in params:
            p.requires_grad_(req)
            p.grad = grad


def prunable_layers(model: nn.Module) -> list[nn.Module]:
    """Conv/Linear modules of ``model`` in registration order."""
    return [m for m in model.modules() if isinstance(m, PRUNABLE)]


def prunable_weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in prunable_layers(model)]


def logits(output: object) -> torch.Tensor:
    """The logits of a forward's output: the tensor itself, or the last tensor of a tuple/list
    (NAS-Bench-201's own networks return ``(features, logits)``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[-1], torch.Tensor):
        return output[-1]
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}")


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (all proxy randomness comes from one of these)."""
    return torch.Generator().manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)


def grads_of(outputs: torch.Tensor, tensors: list[torch.Tensor], **kw) -> list[torch.Tensor]:
    """``torch.autograd.grad`` with zeros for tensors the output does not depend on."""
    gs = torch.autograd.grad(outputs, tensors, allow_unused=True, **kw)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, gs)]


def check_targets(targets: torch.Tensor | None, name: str) -> torch.Tensor:
    if targets is None:
        raise ValueError(f"proxy {name!r} needs targets (labels) for its loss")
    return targets


def modules_of(model: nn.Module, kinds: tuple[type, ...]) -> Iterator[nn.Module]:
    return (m for m in model.modules() if isinstance(m, kinds))


def hooked_forward(net: nn.Module, modules, hook, inputs: torch.Tensor, *, grad: bool = False) -> None:
    """One forward pass of ``net`` on ``inputs`` with ``hook`` as forward hook on each of ``modules``, removed after."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        with torch.set_grad_enabled(grad):
            net(inputs)
    finally:
        for h in handles:
            h.remove()
