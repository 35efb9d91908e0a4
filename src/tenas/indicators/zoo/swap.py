"""SWAP-Score: the number of distinct sample-wise activation patterns, and its size-regularised form
(Peng, Song, Fayek, Ciesielski & Chang, "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS",
ICLR 2024).

Definition: forward the batch of B samples; the binary code of a unit is ``out > 0`` at the output of an
``nn.ReLU`` module, and every unit (channel x position) of every hooked ReLU is one *neuron*. Arrange the
codes as a (neurons x samples) matrix -- each row is one neuron's on/off pattern across the B samples (the
transpose of the per-sample pattern matrix) -- and score = the number of distinct rows (at most
``min(#neurons, 2**B)``). Higher is predicted better. ``reg_swap`` multiplies it by the model-size
regulariser ``exp(-(P - mu)**2 / sigma)`` where P is the number of parameters *in thousands* (the
official ``count_parameters``: ``sum(numel) / 1e3`` over named parameters whose name does not contain
"auxiliary") of the network the score is computed on; note ``sigma`` divides the square directly (no
factor 2, not squared).

What the official code does (github.com/pym1024/SWAP, ``src/metrics/swap.py`` and ``correlation.py``):
a forward hook on every ``nn.ReLU`` module (all of them, at every depth; functional relu and other
activations are not seen) keeps the output when the ReLU's input is 4-D (convolutional features; ReLUs on
2-D inputs are ignored); the outputs are flattened per sample, concatenated, passed through
``torch.sign`` (= ``out > 0`` after a ReLU), transposed and counted with ``torch.unique(dim=0)``; the
regular factor (computed once per network) multiplies the count. ``correlation.py`` (its only protocol:
1000 DARTS cells, CIFAR-10; the repository has no NAS-Bench-201 script and no NB201 ``mu``/``sigma``)
feeds the first 16 CIFAR-10 training images (``--input_samples 16``, unshuffled, 32 x 32 random crop
without padding, normalised), builds a reduced network (``Network(C=3, classes=10, layers=1)``: one cell,
no stem), and averages 32 scores (``--repeats 32``), each after re-initialising the network in place with
``network_weight_gaussian_init`` (conv and linear weights N(0, 1), biases 0, BatchNorm/GroupNorm weight 1
and bias 0); the network is freshly built, hence in train mode. Here: with ``gaussian_init`` (default)
``repeats`` scores on a copy re-initialised that way from ``seed`` are averaged (as ``correlation.py``);
with ``gaussian_init=False`` the caller's weights are used (one forward pass). Train mode, ``no_grad``;
the caller's model is untouched. No ReLU on a 4-D input: ``ValueError``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import borrowed, generator, hooked_forward, working_copy
from tenas.indicators.zoo.zen import gaussian_init_


def count_distinct_patterns(codes: torch.Tensor) -> int:
    """Number of distinct columns of a (samples x neurons) binary matrix (= distinct rows of its transpose)."""
    bits = codes.reshape(len(codes), -1).T.to(torch.bool)  # neurons x samples
    n_neurons, n_samples = bits.shape
    if n_neurons == 0:
        return 0
    # pack each neuron's pattern into int64 words of 62 bits, then count the distinct (rows of) words
    words = []
    for start in range(0, n_samples, 62):
        chunk = bits[:, start:start + 62].to(torch.int64)
        weights = torch.ones(chunk.shape[1], dtype=torch.int64) << torch.arange(chunk.shape[1], dtype=torch.int64)
        words.append((chunk * weights).sum(1))
    packed = torch.stack(words, 1)
    return int(torch.unique(packed[:, 0]).numel() if packed.shape[1] == 1 else torch.unique(packed, dim=0).shape[0])


def parameters_in_thousands(model: nn.Module) -> float:
    """The official SWAP model size: parameters (names without "auxiliary") / 1e3."""
    return sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name) / 1e3


def regular_factor(model: nn.Module, mu: float, sigma: float) -> float:
    """``exp(-(P - mu)**2 / sigma)`` with P the parameter count in thousands."""
    if not sigma > 0:
        raise ValueError(f"reg_swap needs sigma > 0, got {sigma}")
    return math.exp(-((parameters_in_thousands(model) - mu) ** 2) / sigma)


def _swap_once(net: nn.Module, inputs: torch.Tensor) -> int:
    codes: list[torch.Tensor] = []

    def hook(_m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        if isinstance(inp, tuple) and inp and inp[0].dim() == 4:
            codes.append((out.detach() > 0).reshape(len(inputs), -1))  # read now: an inplace op may follow

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    hooked_forward(net, relus, hook, inputs)
    if not codes:
        raise ValueError("swap needs nn.ReLU modules applied to 4-D inputs (functional relu cannot be hooked)")
    return count_distinct_patterns(torch.cat(codes, 1))


@register_proxy("swap", higher_is_better=True,
                paper="Peng et al., 'SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS', ICLR 2024")
def swap(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
         repeats: int = 1, gaussian_init: bool = True) -> float:
    """Distinct per-neuron activation patterns across the batch, averaged over Gaussian re-initialisations."""
    if repeats < 1:
        raise ValueError(f"swap needs repeats >= 1, got {repeats}")
    if not gaussian_init:
        with borrowed(model) as net:
            return float(_swap_once(net, inputs))
    net = working_copy(model)
    gen = generator(seed)
    scores = []
    for _ in range(repeats):
        gaussian_init_(net, gen)
        scores.append(_swap_once(net, inputs))
    return float(sum(scores) / len(scores))


@register_proxy("reg_swap", higher_is_better=True, needs=("mu", "sigma"),
                paper="Peng et al., 'SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS', ICLR 2024")
def reg_swap(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
             mu: float | None = None, sigma: float | None = None, repeats: int = 1,
             gaussian_init: bool = True) -> float:
    """SWAP-Score times exp(-(P - mu)**2 / sigma), P = parameters in thousands."""
    if mu is None or sigma is None:
        raise ValueError("reg_swap needs mu and sigma (in thousands of parameters, as the official code counts); "
                         "the official repository gives no NAS-Bench-201 values")
    factor = regular_factor(model, float(mu), float(sigma))
    return factor * swap(model, inputs, targets, seed=seed, repeats=repeats, gaussian_init=gaussian_init)
