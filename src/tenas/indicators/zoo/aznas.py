"""AZ-NAS: four complementary proxies from one forward and one backward pass over a network's stage
features -- expressivity, progressivity, trainability and complexity (Lee & Ham, "AZ-NAS: Assembling
Zero-Cost Proxies for Network Architecture Search", CVPR 2024). Higher is predicted better for each.

Definitions, on the list of feature maps ``f_0, ..., f_{L-1}`` (each ``(B, C, H, W)``) that a network's
stages output in order:

* per feature map, the *isotropy entropy*: treat every (sample, position) as one observation of a
  C-vector (``(B*H*W, C)``), centre it, take the covariance ``X^T X / (B*H*W)`` (biased), its eigenvalues
  ``s``, ``p = s / sum(s)`` and ``e = -sum p * log(p + 1e-8)``: log C for isotropic features, 0 for rank 1;
* ``az_expressivity`` = ``sum_l e_l``;
* ``az_progressivity`` = ``min_l (e_l - e_{l-1})``, the smallest increase of the entropy from one
  stage to the next (negative when some stage loses isotropy);
* ``az_trainability`` = the mean over consecutive pairs ``(f_{l-1}, f_l)`` of ``-sigma - 1/(sigma + 1e-6) + 2``
  (largest, about 0, at sigma = 1), where sigma estimates the spectral norm of the Jacobian
  ``d f_l / d f_{l-1}``: draw a Rademacher probe ``v`` (entries +-1, probability 1/2) shaped like
  ``f_l``, backpropagate it to ``g = J^T v`` shaped like ``f_{l-1}`` (when ``f_l`` has a coarser grid,
  ``g`` is pixel-unshuffled by the stride so both share it: ``(B, C_in * stride**2, H_l, W_l)``), and
  take the largest singular value of ``M = G^T V / (B*H_l*W_l)`` with ``G``, ``V`` the probes as
  ``(B*H_l*W_l, channels)`` rows: M is an unbiased one-probe estimate of the position-averaged
  channel-to-channel block of J (``E[v v^T] = I``), exact when the probes' rows are orthogonal. A pair
  whose backpropagated probe equals the probe exactly (an identity stage) scores ``-inf``;
* ``az_complexity`` = FLOPs: per-image MFLOPs of the network on an input shaped like one image of the
  batch, under NAS-Bench-201's counting convention (:func:`tenas.spaces.flops.count_flops`, as
  :mod:`tenas.indicators.zoo.flops`).

AZ-NAS ranks networks by ``sum over the four proxies of log(rank / n)``; that aggregation is
``tenas.correlate.stats.ensemble(scores, ["az_expressivity", "az_progressivity", "az_trainability",
"az_complexity"], how="logrank")`` and is not repeated here.

What the official code does (github.com/cvlab-yonsei/AZ-NAS, ``NB201/ZeroShotProxy/compute_az_nas_score.py``
run by ``NB201/tss_general.ipynb``; ``ImageNet_MBV2`` has the same formulas): the network is the NB201
evaluation network (``NB201/custom/tss_model.py``: xautodl ``InferCell`` / ``ResNetBasicblock``, C=16,
N=5, BatchNorm affine with running statistics), put in train mode (BatchNorm on the batch's statistics)
and *re-initialised in place* by ``init_model(model, 'kaiming_norm_fanin')``: every ``nn.Conv2d`` and
``nn.Linear`` weight ``kaiming_normal_(mode='fan_in', nonlinearity='relu')`` (N(0, 2 / fan_in)), their biases
0, every affine ``BatchNorm2d`` / ``GroupNorm`` weight 1 and bias 0. The input is Gaussian -- az_nas is not
among the notebook's ``real_input_metrics``, so ``trainloader=None`` and ``torch.randn(batch_size, 3,
resolution, resolution)`` with the search loader's batch size (``weight-sharing.config``: 64) and image
size (32 for CIFAR, 16 for ImageNet16-120). The features are those of the model's added
``extract_cell_features``: the stem's output (conv + BN) and the output of *every* entry of ``cells``,
the two stride-2 residual blocks included -- 1 + 3N + 2 = 18 maps for N=5, hence 17 transitions (two of
them stride-2, handled by the pixel-unshuffle). Expressivity uses ``feat.detach()`` in float32 with
``eigvalsh``; progressivity is ``np.min(scores[1:] - scores[:-1])`` over all 18 maps (across stage
boundaries too); the trainability loop runs ``for i in reversed(range(1, L))`` with one fresh probe
``(torch.bernoulli(0.5) - 0.5) * 2`` per pair and ``torch.autograd.grad(f_i, f_{i-1}, v)``, and takes
``np.mean`` of the pair scores; ``svdvals`` gives sigma. Each of the three values is replaced by ``-inf``
when NaN (an all-zero feature map gives ``0/0`` in ``p``). Complexity is not computed there: the notebook
takes the benchmark's FLOPs from the NATS-Bench API (``get_compute_costs(dataset)['flops']``), which is
what ``count_flops`` counts. The notebook aggregates ``log(rankdata(x) / n)`` over FLOPs and the three
scores (scipy's average ranks) and reports Kendall tau of that sum against accuracy.

Here: with ``kaiming_init`` (default) a copy is re-initialised that way from ``seed``; with
``kaiming_init=False`` the caller's weights are used (and its modes, buffers and gradients restored).
With ``gaussian_inputs`` (default) the input is ``N(0, 1)`` shaped like ``inputs`` (batch size and image
size come from the caller's batch), drawn after the weights from the same generator; with
``gaussian_inputs=False`` the batch itself is used. Train mode. The features come from forward hooks on
the stage modules (the model is not changed): for a NAS-Bench-201 :class:`tenas.spaces.nb201.TinyNetwork`,
``stem`` and every entry of ``cells`` in call order, as ``extract_cell_features`` (``stages`` names other
modules, e.g. ``("0", "2")`` for a Sequential). One difference of the network, not of the measure:
xautodl's ``none`` op is ``x.mul(0)`` (in the graph, with a zero derivative), ours returns no tensor, so
a stage output that does not require grad (a cell whose every path to its output is ``none``) is
replaced, for the backward passes only, by a leaf equal to it; a pair whose output does not depend on its
input then has ``J^T v = 0`` exactly as there (sigma = 0, a score of about ``-1e6``). The entropies are
computed in float64 (the official float32 ``eigvalsh`` can return eigenvalues of rank-deficient
covariances slightly below 0, which ``log(p + 1e-8)`` turns into NaN, hence ``-inf``, more often), and
sigma in float64. NaN results are returned as ``-inf``, as there. The three feature proxies draw the same
weights, input and probes for a given seed, so they describe the same network; each reruns the forward
pass (``az_expressivity`` and ``az_progressivity`` without gradients). :func:`az_nas_scores` computes all
four from one pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import borrowed, generator, hooked_forward, working_copy

PAPER = ("Lee & Ham, 'AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search', CVPR 2024")
#: ``p + EPS_LOG`` inside the entropy's log, as the official code
EPS_LOG = 1e-8
#: ``1 / (sigma + EPS_SIGMA)`` in the trainability score, as the official code
EPS_SIGMA = 1e-6


# --------------------------------------------------------------------------------------------------
# the generic part: functions of feature tensors
# --------------------------------------------------------------------------------------------------
def _nan_to_neg_inf(value: float) -> float:
    return -math.inf if math.isnan(value) else float(value)


def feature_entropy(feature: torch.Tensor) -> float:
    """Entropy ``-sum p log(p + 1e-8)`` of the normalised eigenvalues of a ``(B, C, H, W)`` map's channel covariance."""
    if feature.dim() != 4:
        raise ValueError(f"AZ-NAS needs 4-D feature maps (batch, channels, height, width), got shape {tuple(feature.shape)}")
    b, c, h, w = feature.shape
    rows = feature.detach().permute(0, 2, 3, 1).reshape(b * h * w, c).to(torch.float64)
    rows = rows - rows.mean(0, keepdim=True)
    sigma = rows.T @ rows / rows.shape[0]
    s = torch.linalg.eigvalsh(sigma)
    p = s / s.sum()
    return float((-p * torch.log(p + EPS_LOG)).sum())


def feature_entropies(features: Sequence[torch.Tensor]) -> np.ndarray:
    """:func:`feature_entropy` of each feature map, in order."""
    return np.array([feature_entropy(f) for f in features], dtype=np.float64)


def expressivity_of(entropies: Sequence[float]) -> float:
    """AZ-NAS expressivity: the sum of the stage entropies (NaN -> -inf)."""
    e = np.asarray(entropies, dtype=np.float64)
    if e.size == 0:
        raise ValueError("az_expressivity needs at least one feature map")
    return _nan_to_neg_inf(float(np.sum(e)))


def progressivity_of(entropies: Sequence[float]) -> float:
    """AZ-NAS progressivity: the smallest increase ``e_l - e_{l-1}`` of the stage entropies (NaN -> -inf)."""
    e = np.asarray(entropies, dtype=np.float64)
    if e.size < 2:
        raise ValueError(f"az_progressivity needs at least two feature maps, got {e.size}")
    return _nan_to_neg_inf(float(np.min(e[1:] - e[:-1])))


def jacobian_probe_matrix(g_in: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
    """``G^T V / n`` from a probe ``g_out`` (B, Co, Ho, Wo) and its backpropagation ``g_in`` (B, Ci, Hi, Wi),
    ``g_in`` pixel-unshuffled to the output grid first when it is finer; the taller orientation (float64)."""
    if g_in.dim() != 4 or g_out.dim() != 4:
        raise ValueError("AZ-NAS trainability needs 4-D feature maps")
    if g_in.shape[2:] != g_out.shape[2:]:
        stride = g_in.shape[2] // g_out.shape[2]
        if stride < 1 or g_in.shape[2] != stride * g_out.shape[2] or g_in.shape[3] != stride * g_out.shape[3]:
            raise ValueError(f"cannot align a {tuple(g_in.shape[2:])} grid with a {tuple(g_out.shape[2:])} one")
        g_in = F.pixel_unshuffle(g_in, stride)
    bo, co, ho, wo = g_out.shape
    n = bo * ho * wo
    gi = g_in.permute(0, 2, 3, 1).reshape(n, -1).to(torch.float64)
    go = g_out.permute(0, 2, 3, 1).reshape(n, co).to(torch.float64)
    mat = gi.T @ go / n
    return mat.T if mat.shape[0] < mat.shape[1] else mat


def trainability_term(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """``-sigma - 1/(sigma + 1e-6) + 2`` for the probe pair, sigma the top singular value; -inf if ``g_in == g_out``."""
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    sigma = float(torch.linalg.svdvals(jacobian_probe_matrix(g_in, g_out)).max())
    return -sigma - 1.0 / (sigma + EPS_SIGMA) + 2.0


def rademacher_like(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Entries +-1 with probability 1/2 each, shaped like ``t`` (the official ``(bernoulli(0.5) - 0.5) * 2``)."""
    bits = torch.randint(0, 2, t.shape, generator=gen, dtype=torch.int64)
    return (bits * 2 - 1).to(dtype=t.dtype, device=t.device)


def trainability_of(features: Sequence[torch.Tensor], gen: torch.Generator) -> float:
    """Mean over consecutive pairs (last first) of :func:`trainability_term` with one Rademacher probe each.

    ``features`` must be the tensors of one autograd graph, each requiring grad; the graph is consumed.
    """
    if len(features) < 2:
        raise ValueError(f"az_trainability needs at least two feature maps, got {len(features)}")
    scores = []
    for i in reversed(range(1, len(features))):
        f_out, f_in = features[i], features[i - 1]
        if not (f_out.requires_grad and f_in.requires_grad):
            raise ValueError("az_trainability needs feature maps that require grad (of one autograd graph)")
        v = rademacher_like(f_out, gen)
        (g,) = torch.autograd.grad(f_out, f_in, grad_outputs=v, allow_unused=True)
        g = torch.zeros_like(f_in) if g is None else g
        scores.append(trainability_term(g, v))
    return _nan_to_neg_inf(float(np.mean(scores)))


# --------------------------------------------------------------------------------------------------
# the network part: initialisation, stage modules and their outputs
# --------------------------------------------------------------------------------------------------
def kaiming_init_(model: nn.Module, gen: torch.Generator) -> None:
    """The official ``init_model(..., 'kaiming_norm_fanin')``: Conv2d/Linear weights N(0, 2/fan_in), biases 0,
    affine BatchNorm2d/GroupNorm weight 1 and bias 0 (in module order): TE-NAS' :func:`tenas.indicators.init.kaiming_init_`
    with ``mode="fan_in"``."""
    from tenas.indicators.init import kaiming_init_ as tenas_kaiming

    tenas_kaiming(model, mode="fan_in", generator=gen)


def stage_modules(model: nn.Module, stages: Sequence[str] | None = None) -> list[nn.Module]:
    """The modules whose outputs are the stage features: those named in ``stages`` (``named_modules`` names); the
    model's own ``stage_modules()`` when it has one (NAS-Bench-Macro: stem and every layer); or for a
    NAS-Bench-201 network (a ``cells`` list) its ``stem`` (when there is one) and every entry of ``cells``."""
    if stages is not None:
        named = dict(model.named_modules())
        missing = [s for s in stages if s not in named]
        if missing:
            raise ValueError(f"no module named {missing} in the model (stages are named_modules() names)")
        return [named[s] for s in stages]
    own = getattr(model, "stage_modules", None)
    if callable(own):
        return list(own())
    cells = getattr(model, "cells", None)
    if not isinstance(cells, (nn.ModuleList, nn.Sequential)):
        raise ValueError("AZ-NAS needs the network's stage modules: a NAS-Bench-201 network (stem + cells), "
                         "a network with a stage_modules() method, or stages=(module names, ...)")
    stem = getattr(model, "stem", None)
    return ([stem] if isinstance(stem, nn.Module) else []) + list(cells)


def stage_features(net: nn.Module, inputs: torch.Tensor, modules: Sequence[nn.Module],
                   grad: bool) -> list[torch.Tensor]:
    """The outputs of ``modules`` during one forward pass of ``net``, in call order; with ``grad`` an output
    that does not require grad is replaced by a leaf equal to it that does."""
    features: list[torch.Tensor] = []

    def hook(_m: nn.Module, _inp: tuple, out: object) -> torch.Tensor | None:
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"AZ-NAS stage modules must return tensors, got {type(out).__name__}")
        if grad and not out.requires_grad:
            out = out.detach().requires_grad_(True)
            features.append(out)
            return out
        features.append(out)
        return None

    hooked_forward(net, modules, hook, inputs, grad=grad)
    if not features:
        raise ValueError("AZ-NAS: no stage module ran in the forward pass")
    return features


def _prepared(model: nn.Module, inputs: torch.Tensor, seed: int, kaiming_init: bool,
              gaussian_inputs: bool) -> tuple[nn.Module, torch.Tensor, torch.Generator]:
    gen = generator(seed)
    net = model
    if kaiming_init:
        net = working_copy(model)
        kaiming_init_(net, gen)
    x = torch.randn(inputs.shape, generator=gen, dtype=inputs.dtype).to(inputs.device) if gaussian_inputs else inputs
    return net, x, gen


def az_nas_scores(model: nn.Module, inputs: torch.Tensor, *, seed: int = 0, kaiming_init: bool = True,
                  gaussian_inputs: bool = True, stages: Sequence[str] | None = None) -> dict[str, float]:
    """All four AZ-NAS components (raw, higher = better) from one forward and one backward pass."""
    net, x, gen = _prepared(model, inputs, seed, kaiming_init, gaussian_inputs)
    with borrowed(net) as net:
        feats = stage_features(net, x, stage_modules(net, stages), grad=True)
        entropies = feature_entropies(feats)
        out = {"expressivity": expressivity_of(entropies), "progressivity": progressivity_of(entropies),
               "trainability": trainability_of(feats, gen)}
    out["complexity"] = az_complexity(model, inputs)
    return out


def _entropies(model: nn.Module, inputs: torch.Tensor, seed: int, kaiming_init: bool, gaussian_inputs: bool,
               stages: Sequence[str] | None) -> np.ndarray:
    net, x, _ = _prepared(model, inputs, seed, kaiming_init, gaussian_inputs)
    with borrowed(net) as net:
        return feature_entropies(stage_features(net, x, stage_modules(net, stages), grad=False))


# --------------------------------------------------------------------------------------------------
# the four proxies
# --------------------------------------------------------------------------------------------------
@register_proxy("az_expressivity", higher_is_better=True, uses="shape", paper=PAPER)
def az_expressivity(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
                    kaiming_init: bool = True, gaussian_inputs: bool = True,
                    stages: Sequence[str] | None = None) -> float:
    """Sum over stage features of the entropy of their normalised channel-covariance spectrum (isotropy)."""
    return expressivity_of(_entropies(model, inputs, seed, kaiming_init, gaussian_inputs, stages))


@register_proxy("az_progressivity", higher_is_better=True, uses="shape", paper=PAPER)
def az_progressivity(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
                     kaiming_init: bool = True, gaussian_inputs: bool = True,
                     stages: Sequence[str] | None = None) -> float:
    """Smallest increase of the isotropy entropy from one stage feature to the next."""
    return progressivity_of(_entropies(model, inputs, seed, kaiming_init, gaussian_inputs, stages))


@register_proxy("az_trainability", higher_is_better=True, uses="shape", paper=PAPER)
def az_trainability(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
                    kaiming_init: bool = True, gaussian_inputs: bool = True,
                    stages: Sequence[str] | None = None) -> float:
    """Mean of -sigma - 1/sigma + 2 over stage pairs, sigma a one-probe spectral norm of their Jacobian."""
    net, x, gen = _prepared(model, inputs, seed, kaiming_init, gaussian_inputs)
    with borrowed(net) as net:
        return trainability_of(stage_features(net, x, stage_modules(net, stages), grad=True), gen)


@register_proxy("az_complexity", higher_is_better=True, uses="shape", paper=PAPER)
def az_complexity(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *,
                  seed: int = 0) -> float:
    """Per-image MFLOPs on inputs shaped like ``inputs[0]`` (NAS-Bench-201's counting convention)."""
    from tenas.spaces.flops import count_flops

    return float(count_flops(model, (1, *inputs.shape[1:])))
