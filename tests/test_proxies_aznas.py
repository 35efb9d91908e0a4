"""AZ-NAS' four proxies (expressivity, progressivity, trainability, complexity) against closed forms,
hand-checked values and brute-force numpy computations, plus the common contract: the caller's model
untouched, deterministic given a seed, runs on NAS-Bench-201 networks."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.registry import get_proxy, list_proxies
from tenas.indicators.zoo import aznas
from tenas.indicators.zoo._common import generator

torch.set_num_threads(1)

NAMES = ["az_expressivity", "az_progressivity", "az_trainability", "az_complexity"]
H4 = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=np.float64)  # Hadamard


def nb201(arch: int | str = 5000, C: int = 8, N: int = 1) -> nn.Module:
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    torch.manual_seed(3)
    return TinyNetwork([[op] for op in to_cell(arch)], C=C, N=N, num_classes=10)


def batch(n: int = 4, shape=(3, 16, 16), seed: int = 0) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


def as_feature(rows: np.ndarray, b: int, h: int, w: int) -> torch.Tensor:
    """(B*H*W, C) observations -> a (B, C, H, W) map whose (sample, position) rows they are."""
    return torch.from_numpy(rows).reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()


def numpy_entropy(feature: torch.Tensor) -> float:
    f = feature.detach().numpy().astype(np.float64)
    rows = f.transpose(0, 2, 3, 1).reshape(-1, f.shape[1])
    s = np.linalg.eigvalsh(np.cov(rows, rowvar=False, bias=True))
    p = s / s.sum()
    return float(np.sum(-p * np.log(p + 1e-8)))


def test_the_proxies_are_registered_with_paper_and_orientation():
    assert set(NAMES) <= set(list_proxies())
    for name in NAMES:
        p = get_proxy(name)
        assert p.paper and p.summary and p.higher_is_better and p.uses == "shape", name


# --------------------------------------------------------------------------------------------------
# expressivity and progressivity
# --------------------------------------------------------------------------------------------------
def test_entropy_of_isotropic_half_and_rank_one_features_in_closed_form():
    # 8 observations of 4 channels: [H; -H] has zero column means and X^T X = 8 I, so the covariance is I:
    # a uniform spectrum p = 1/4 and entropy -sum 1/4 log(1/4 + 1e-8) = -log(1/4 + 1e-8) ~ log 4
    iso = np.concatenate([H4, -H4])
    assert aznas.feature_entropy(as_feature(iso, 2, 2, 2)) == pytest.approx(-math.log(0.25 + 1e-8), abs=1e-12)
    # only 2 of the 4 directions used, equally: p = (1/2, 1/2, 0, 0) -> -log(1/2 + 1e-8) ~ log 2
    half = np.concatenate([H4[:, :2] @ np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]),
                           -H4[:, :2] @ np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])])
    half = half @ np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0]  # any rotation: same spectrum
    assert aznas.feature_entropy(as_feature(half, 2, 2, 2)) == pytest.approx(-math.log(0.5 + 1e-8), abs=1e-9)
    # rank 1: every observation a multiple of one vector -> one-hot spectrum, entropy -log(1 + 1e-8) ~ 0
    t = np.array([-3.0, -1, 0, 1, 3, 2, -2, 0])
    one = np.outer(t, [1.0, -2.0, 0.5, 3.0])
    assert aznas.feature_entropy(as_feature(one, 2, 2, 2)) == pytest.approx(-math.log(1 + 1e-8), abs=1e-9)


def test_entropy_equals_numpy_and_uses_channels_as_the_variables():
    g = torch.Generator().manual_seed(4)
    f = torch.randn(3, 5, 4, 2, generator=g) * torch.tensor([1.0, 2, 0.5, 3, 1]).reshape(1, 5, 1, 1)
    assert aznas.feature_entropy(f) == pytest.approx(numpy_entropy(f), rel=1e-10)
    assert aznas.feature_entropy(f) < math.log(5)
    # a constant channel is a zero eigenvalue (contributes 0); an all-zero map gives 0/0: NaN
    f[:, 2] = 7.0
    assert aznas.feature_entropy(f) == pytest.approx(numpy_entropy(f), rel=1e-10)
    assert math.isnan(aznas.feature_entropy(torch.zeros(2, 3, 2, 2)))
    with pytest.raises(ValueError, match="4-D"):
        aznas.feature_entropy(torch.zeros(4, 3))


def test_expressivity_and_progressivity_by_hand():
    e = [1.0, 1.5, 1.2, 2.0]  # increases 0.5, -0.3, 0.8
    assert aznas.expressivity_of(e) == pytest.approx(5.7)
    assert aznas.progressivity_of(e) == pytest.approx(-0.3)
    assert aznas.progressivity_of([0.0, math.log(2), math.log(4)]) == pytest.approx(math.log(2))
    assert aznas.expressivity_of([1.0, float("nan")]) == -math.inf  # official: NaN -> -inf
    assert aznas.progressivity_of([1.0, float("nan"), 3.0]) == -math.inf
    with pytest.raises(ValueError, match="two"):
        aznas.progressivity_of([1.0])


def staged_net() -> nn.Sequential:
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3),  # stage "1": after BN
        nn.Tanh(), nn.Conv2d(3, 4, 2, stride=2),           # stage "3": stride 2
        nn.Tanh(), nn.Conv2d(4, 4, 1),                     # stage "5"
    )


STAGES = ("1", "3", "5")


def test_proxies_on_named_stages_equal_numpy_on_the_stage_outputs():
    net = staged_net()
    x = batch(3, (2, 4, 4), seed=6)
    ref = copy.deepcopy(net).train()
    with torch.no_grad():
        f1 = ref[1](ref[0](x))
        f3 = ref[3](ref[2](f1))
        f5 = ref[5](ref[4](f3))
    e = [numpy_entropy(f) for f in (f1, f3, f5)]
    kw = dict(kaiming_init=False, gaussian_inputs=False, stages=STAGES)
    assert get_proxy("az_expressivity")(net, x, **kw).raw == pytest.approx(sum(e), rel=1e-9)
    assert get_proxy("az_progressivity")(net, x, **kw).raw == pytest.approx(min(e[1] - e[0], e[2] - e[1]), rel=1e-9)


# --------------------------------------------------------------------------------------------------
# trainability
# --------------------------------------------------------------------------------------------------
def test_probe_matrix_recovers_the_spectral_norm_of_an_explicit_jacobian():
    # a 1x1 convolution on 1x1 maps: the Jacobian of each sample is W (4 x 3). With the 4 Hadamard rows as
    # the probes of the 4 samples, sum_b v_b v_b^T = 4 I, so G^T V / 4 = W^T exactly
    torch.manual_seed(7)
    conv = nn.Conv2d(3, 4, 1, bias=False)
    W = conv.weight.detach().reshape(4, 3).numpy().astype(np.float64)
    x = torch.randn(4, 3, 1, 1, requires_grad=True)
    v = torch.from_numpy(H4).float().reshape(4, 4, 1, 1)
    (g,) = torch.autograd.grad(conv(x), x, v)
    mat = aznas.jacobian_probe_matrix(g, v).numpy()
    np.testing.assert_allclose(mat, W, rtol=1e-6, atol=1e-7)  # the taller orientation: 4 x 3
    sigma = np.linalg.norm(W, 2)
    assert float(torch.linalg.svdvals(torch.from_numpy(mat)).max()) == pytest.approx(sigma, rel=1e-6)
    assert aznas.trainability_term(g, v) == pytest.approx(-sigma - 1 / (sigma + 1e-6) + 2, rel=1e-6)
    # one sample, 2x2 positions, the probes over the positions orthogonal: the same W
    x = torch.randn(1, 3, 2, 2, requires_grad=True)
    v = torch.from_numpy(H4.T.copy()).float().reshape(1, 4, 2, 2)  # position p's probe = Hadamard row p
    (g,) = torch.autograd.grad(conv(x), x, v)
    np.testing.assert_allclose(aznas.jacobian_probe_matrix(g, v).numpy(), W, rtol=1e-6, atol=1e-7)


def test_probe_matrix_of_a_stride_two_map_after_pixel_unshuffle():
    # a 2x2 stride-2 convolution from (2, 2, 2) to (4, 1, 1): per sample its Jacobian is W as 4 x (2*2*2),
    # and pixel-unshuffle orders the input as (channel, dy, dx), like the kernel
    torch.manual_seed(8)
    conv = nn.Conv2d(2, 4, 2, stride=2, bias=False)
    J = conv.weight.detach().reshape(4, 8).numpy().astype(np.float64)
    x = torch.randn(4, 2, 2, 2, requires_grad=True)
    v = torch.from_numpy(H4).float().reshape(4, 4, 1, 1)
    (g,) = torch.autograd.grad(conv(x), x, v)
    mat = aznas.jacobian_probe_matrix(g, v).numpy()
    np.testing.assert_allclose(mat, J.T, rtol=1e-6, atol=1e-7)  # 8 x 4
    sigma = np.linalg.norm(J, 2)
    assert aznas.trainability_term(g, v) == pytest.approx(-sigma - 1 / (sigma + 1e-6) + 2, rel=1e-6)


def test_trainability_term_of_an_identity_is_minus_infinity_and_of_a_zero_jacobian_about_minus_1e6():
    v = torch.tensor([1.0, -1, -1, 1]).reshape(1, 4, 1, 1)
    assert aznas.trainability_term(v.clone(), v) == -math.inf
    assert aznas.trainability_term(torch.zeros(1, 4, 1, 1), v) == pytest.approx(-1e6 + 2)


def _brute_force_trainability(net: nn.Sequential, x: torch.Tensor, seed: int) -> float:
    """Explicit Jacobians of each stage (as a function of the previous stage's output, whole batch), the
    probes drawn as the official loop does (last pair first), the probe matrix and its 2-norm in numpy."""
    ref = copy.deepcopy(net).train()
    blocks = [lambda t: ref[1](ref[0](t)), lambda t: ref[3](ref[2](t)), lambda t: ref[5](ref[4](t))]
    feats = [x]
    with torch.no_grad():
        for blk in blocks:
            feats.append(blk(feats[-1]))
    feats = feats[1:]  # the stages' outputs f1, f3, f5
    g = torch.Generator().manual_seed(seed)
    scores = []
    for i in reversed(range(1, len(feats))):
        f_in, f_out = feats[i - 1], feats[i]
        J = torch.autograd.functional.jacobian(blocks[i], f_in).reshape(f_out.numel(), f_in.numel()).double().numpy()
        v = (torch.randint(0, 2, f_out.shape, generator=g) * 2 - 1).double().numpy()
        gin = (J.T @ v.reshape(-1)).reshape(f_in.shape)
        b, co, ho, wo = v.shape
        s = f_in.shape[2] // ho
        ci = f_in.shape[1]
        gin = gin.reshape(b, ci, ho, s, wo, s).transpose(0, 2, 4, 1, 3, 5).reshape(b * ho * wo, ci * s * s)
        vv = v.transpose(0, 2, 3, 1).reshape(b * ho * wo, co)
        sigma = np.linalg.norm(gin.T @ vv / (b * ho * wo), 2)
        scores.append(-sigma - 1 / (sigma + 1e-6) + 2)
    return float(np.mean(scores))


def test_trainability_equals_brute_force_jacobians_through_batchnorm_and_a_stride():
    net = staged_net()
    x = batch(3, (2, 4, 4), seed=9)
    got = get_proxy("az_trainability")(net, x, seed=12, kaiming_init=False, gaussian_inputs=False, stages=STAGES).raw
    assert got == pytest.approx(_brute_force_trainability(net, x, 12), rel=1e-5)


def test_trainability_needs_two_differentiable_features():
    with pytest.raises(ValueError, match="two"):
        aznas.trainability_of([torch.zeros(1, 2, 2, 2, requires_grad=True)], torch.Generator())
    with pytest.raises(ValueError, match="require grad"):
        aznas.trainability_of([torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)], torch.Generator())


# --------------------------------------------------------------------------------------------------
# complexity, initialisation
# --------------------------------------------------------------------------------------------------
def test_complexity_is_the_benchmark_flop_count():
    from tenas.spaces.flops import count_flops

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3))
    x = batch(5, (3, 8, 8))
    # conv: 3*3*3*4 multiply-adds at 64 positions; linear 4*3 + 3 bias; per image, in millions
    assert get_proxy("az_complexity")(net, x).raw == pytest.approx((108 * 64 + 15) / 1e6, rel=1e-12)
    nb = nb201(13714, C=16, N=5)
    assert get_proxy("az_complexity")(nb, batch(2, (3, 32, 32))).raw == pytest.approx(count_flops(nb, (1, 3, 32, 32)))
    assert get_proxy("az_complexity")(nb, batch(2, (3, 32, 32))).raw == pytest.approx(153.27, abs=0.01)  # the API's


def test_kaiming_fan_in_initialisation():
    net = nn.Sequential(nn.Conv2d(64, 64, 3, bias=True), nn.BatchNorm2d(64), nn.Linear(300, 200), nn.GroupNorm(4, 8))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.3)
    aznas.kaiming_init_(net, torch.Generator().manual_seed(0))
    assert float(net[0].weight.detach().std()) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.03)
    assert float(net[2].weight.detach().std()) == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    assert abs(float(net[0].weight.detach().mean())) < 0.003
    for m in (net[0], net[2]):
        assert torch.all(m.bias == 0)
    for m in (net[1], net[3]):
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    other = copy.deepcopy(net)
    aznas.kaiming_init_(other, torch.Generator().manual_seed(0))
    aznas.kaiming_init_(net, torch.Generator().manual_seed(0))
    assert torch.equal(other[0].weight, net[0].weight)


# --------------------------------------------------------------------------------------------------
# NAS-Bench-201 networks
# --------------------------------------------------------------------------------------------------
def test_nb201_stage_features_are_the_stem_and_every_cell_and_block():
    net = nb201(C=4, N=2)
    mods = aznas.stage_modules(net)
    assert len(mods) == 1 + 3 * 2 + 2 and mods[0] is net.stem and mods[1:] == list(net.cells)
    feats = aznas.stage_features(net, batch(2, (3, 8, 8)), mods, grad=False)
    assert [tuple(f.shape[1:]) for f in feats] == [(4, 8, 8)] * 3 + [(8, 4, 4)] * 3 + [(16, 2, 2)] * 3


def manual_entropies(net: nn.Module, x: torch.Tensor, seed: int, blocks: str) -> list[float]:
    """The official extract_cell_features on a copy (kaiming init, then a Gaussian input from one generator):
    numpy entropies of the stem's output and of every module of ``net.<blocks>`` in turn."""
    ref = copy.deepcopy(net).train()
    g = generator(seed)
    aznas.kaiming_init_(ref, g)
    z = torch.randn(x.shape, generator=g)
    with torch.no_grad():
        feats = [ref.stem(z)]
        for block in getattr(ref, blocks):
            feats.append(block(feats[-1]))
    return [numpy_entropy(f) for f in feats]


@pytest.mark.parametrize("arch", [0, 5000, 15624])
def test_nb201_values_equal_a_manual_extraction_of_the_cell_features(arch):
    net = nb201(arch)
    x = batch(4, (3, 16, 16), seed=arch)
    seed = 21
    e = manual_entropies(net, x, seed, "cells")
    assert len(e) == 6
    got = aznas.az_nas_scores(net, x, seed=seed)
    assert got["expressivity"] == pytest.approx(sum(e), rel=1e-8)
    assert got["progressivity"] == pytest.approx(min(np.diff(e)), rel=1e-6, abs=1e-9)
    assert math.isfinite(got["trainability"]) and got["trainability"] <= 2
    for name in NAMES:
        assert get_proxy(name)(net, x, seed=seed).raw == pytest.approx(got[name[3:]], rel=1e-9), name


def test_macro_stage_features_are_the_stem_and_every_layer_and_values_equal_a_manual_extraction():
    from tenas.spaces.macro.network import build_network

    net = build_network("01212212", width=0.25)  # layer 0's identity is a strided 1x1 conv + BN
    mods = aznas.stage_modules(net)
    assert len(mods) == 9 and mods[0] is net.stem and mods[1:] == list(net.layers)
    x = batch(4, (3, 16, 16), seed=3)
    e = manual_entropies(net, x, 5, "layers")
    got = aznas.az_nas_scores(net, x, seed=5)
    assert got["expressivity"] == pytest.approx(sum(e), rel=1e-8)
    assert got["progressivity"] == pytest.approx(min(np.diff(e)), rel=1e-6, abs=1e-9)
    assert math.isfinite(got["trainability"])
    # an identity layer (nn.Identity) backpropagates the probe unchanged: -inf, as the official formula
    assert aznas.az_nas_scores(build_network("01212210", width=0.25), x, seed=5)["trainability"] == -math.inf


def test_nb201_identity_and_zero_cells():
    x = batch(4, (3, 16, 16))
    ident = nb201("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    s = aznas.az_nas_scores(ident, x, seed=1)
    assert s["trainability"] == -math.inf  # official: a pair with J^T v == v scores -inf
    assert math.isfinite(s["expressivity"]) and math.isfinite(s["progressivity"])
    zero = nb201("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    s = aznas.az_nas_scores(zero, x, seed=1)
    assert s["expressivity"] == -math.inf and s["progressivity"] == -math.inf  # 0/0 -> NaN -> -inf
    assert -1e6 < s["trainability"] < -1e5  # zero Jacobians: about -1e6 each, averaged with finite ones


def _snapshot(model: nn.Module):
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            [p.grad for p in model.parameters()], [m.training for m in model.modules()],
            [p.requires_grad for p in model.parameters()])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kaiming", [True, False])
def test_proxy_leaves_model_untouched_and_is_deterministic(name, kaiming):
    net = nb201()
    net.eval()
    before = _snapshot(net)
    x = batch(4, (3, 16, 16))
    x0 = x.clone()
    kw = {} if name == "az_complexity" else {"kaiming_init": kaiming}
    a = get_proxy(name)(net, x, None, seed=11, **kw)
    b = get_proxy(name)(net, x, None, seed=11, **kw)
    assert a == b and math.isfinite(a.raw) and a.oriented == a.raw
    after = _snapshot(net)
    assert after[2] == before[2] and after[3] == before[3]
    assert all(g is None for g in after[1])
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), (name, k)
    assert torch.equal(x, x0)


def test_seed_changes_weights_input_and_probes_and_real_inputs_can_be_used():
    net = nb201(C=4)
    x = batch(4, (3, 16, 16))
    assert len({get_proxy("az_trainability")(net, x, seed=s).raw for s in range(3)}) == 3
    assert len({get_proxy("az_expressivity")(net, x, seed=s).raw for s in range(3)}) == 3
    # the caller's weights and batch: expressivity no longer depends on the seed, trainability still does
    kw = dict(kaiming_init=False, gaussian_inputs=False)
    assert len({get_proxy("az_expressivity")(net, x, seed=s, **kw).raw for s in range(3)}) == 1
    assert len({get_proxy("az_trainability")(net, x, seed=s, **kw).raw for s in range(3)}) == 3


def test_errors():
    mlp = nn.Sequential(nn.Linear(5, 4), nn.ReLU())
    with pytest.raises(ValueError, match="stage modules"):
        get_proxy("az_expressivity")(mlp, torch.randn(4, 5))
    with pytest.raises(ValueError, match="no module named"):
        get_proxy("az_trainability")(staged_net(), batch(2, (2, 4, 4)), stages=("1", "nope"))
    with pytest.raises(ValueError, match="4-D"):
        get_proxy("az_progressivity")(mlp, torch.randn(4, 5), stages=("0", "1"))
