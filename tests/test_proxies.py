"""Each zero-cost proxy against a hand-checked or brute-force expectation, plus the common contract:
orientation, determinism given a seed, and the caller's model left untouched."""

from __future__ import annotations

import copy
import importlib.util
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tenas.indicators.registry import get_proxy, list_proxies

torch.set_num_threads(1)

ALL = ["fisher", "flops", "grad_norm", "grasp", "jacob_cov", "naswot", "ntk", "params", "regions", "snip",
       "synflow", "zen", "zico"]
HAVE_TENAS_INDICATORS = all(importlib.util.find_spec(m) is not None for m in
                            ("tenas.indicators.ntk", "tenas.indicators.regions", "tenas.indicators.init"))


def mlp(bias: bool = True) -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 4, bias=bias), nn.ReLU(), nn.Linear(4, 3, bias=bias))


def small_cnn() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )


def tiny_nb201(arch: int = 5000) -> nn.Module:
    from tenas.spaces.nb201 import build_network

    torch.manual_seed(3)
    return build_network(arch, C=4, N=1)


def batch(n: int = 8, shape=(3, 8, 8), classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


def test_every_proxy_is_registered_with_paper_and_orientation():
    assert set(ALL) <= set(list_proxies())
    for name in ALL:
        p = get_proxy(name)
        assert p.paper and p.summary, name
        assert p.higher_is_better == (name != "ntk"), name
    assert get_proxy("ntk").orient(12.0) == -12.0
    assert get_proxy("synflow").orient(12.0) == 12.0


# --------------------------------------------------------------------------------------------------
# hand-checked values
# --------------------------------------------------------------------------------------------------
def test_params_equals_formula():
    assert get_proxy("params")(mlp(), None, None).raw == 5 * 4 + 4 + 4 * 3 + 3
    assert get_proxy("params")(mlp(bias=False), None, None).raw == 5 * 4 + 4 * 3
    from tenas.spaces.nb201 import build_network, count_parameters

    net = build_network(123)
    assert get_proxy("params")(net, None).raw == count_parameters(net)


def test_flops_equals_formula():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 2))
    x, _ = batch(4, (3, 5, 5))
    expected = (9 * 3 * 8 * 25 + 8 * 2 + 2) / 1e6
    assert get_proxy("flops")(net, x).raw == pytest.approx(expected)


def test_synflow_linear_chain_is_layers_times_R():
    net = mlp(bias=False)
    w1, w2 = net[0].weight.detach().abs().double(), net[2].weight.detach().abs().double()
    R = float(torch.ones(1, 3, dtype=torch.float64) @ (w2 @ w1) @ torch.ones(5, 1, dtype=torch.float64))
    x, _ = batch(6, (5,))
    assert get_proxy("synflow")(net, x).raw == pytest.approx(2 * R, rel=1e-12)


def test_synflow_strips_batchnorm_and_ignores_the_data():
    net = small_cnn()
    a = get_proxy("synflow")(net, batch(4)[0]).raw
    b = get_proxy("synflow")(net, batch(4, seed=5)[0]).raw
    assert a == b and a > 0


def _ce_grads(net, x, y):
    net = copy.deepcopy(net).train()
    loss = F.cross_entropy(net(x), y)
    ws = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return ws, torch.autograd.grad(loss, ws)


def test_grad_norm_and_snip_equal_manual_autograd():
    net = small_cnn()
    x, y = batch()
    ws, gs = _ce_grads(net, x, y)
    assert get_proxy("grad_norm")(net, x, y).raw == pytest.approx(sum(float(g.norm()) for g in gs), rel=1e-5)
    assert get_proxy("snip")(net, x, y).raw == pytest.approx(sum(float((w * g).abs().sum()) for w, g in zip(ws, gs)),
                                                             rel=1e-5)


def test_grasp_equals_brute_force_hessian():
    net = mlp()
    x, y = batch(6, (5,))
    w1, b1, w2, b2 = [p.detach().clone() for p in net.parameters()]
    sizes = [w1.numel(), w2.numel()]

    def loss_of(theta):  # loss as a function of the two weight matrices only
        a, b = theta[: sizes[0]].view_as(w1), theta[sizes[0]:].view_as(w2)
        return F.cross_entropy(F.linear(F.relu(F.linear(x, a, b1)), b, b2), y)

    theta = torch.cat([w1.flatten(), w2.flatten()])
    g = torch.autograd.functional.jacobian(loss_of, theta)
    H = torch.autograd.functional.hessian(loss_of, theta)
    expected = float(-(theta * (H @ g)).sum())
    assert get_proxy("grasp")(net, x, y).raw == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_fisher_equals_manual_activation_gradients():
    net = small_cnn()
    x, y = batch()
    ref = copy.deepcopy(net).train()
    acts = []

    def keep(_m, _i, out):
        out.retain_grad()
        acts.append(out)

    for m in ref.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(keep)
    F.cross_entropy(ref(x), y).backward()
    expected = 0.0
    for a in acts:
        for c in range(a.shape[1]):
            per_sample = [float((a[n, c] * a.grad[n, c]).sum()) for n in range(a.shape[0])]
            expected += 0.5 * float(np.mean(np.square(per_sample)))
    assert get_proxy("fisher")(net, x, y).raw == pytest.approx(expected, rel=1e-4)


def test_jacob_cov_equals_numpy_on_per_sample_jacobians():
    torch.manual_seed(4)  # no BatchNorm: samples are independent, so per-sample Jacobians can be taken one by one
    net = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x = batch(6, (12,))[0].double()
    rows = [torch.autograd.functional.jacobian(lambda v: net(v[None]).sum(), x[i]).numpy() for i in range(len(x))]
    corr = np.corrcoef(np.stack(rows).astype(np.float64))
    v = np.linalg.eigvals(corr).real
    expected = -np.sum(np.log(v + 1e-5) + 1.0 / (v + 1e-5))
    assert get_proxy("jacob_cov")(net, x).raw == pytest.approx(expected, rel=1e-6)


def test_jacob_cov_is_nan_when_output_ignores_input():
    net = nn.Sequential(nn.Linear(5, 3))
    with torch.no_grad():
        net[0].weight.zero_()
    assert math.isnan(get_proxy("jacob_cov")(net, batch(4, (5,))[0]).raw)


def test_naswot_equals_numpy_slogdet_of_naive_kernel():
    net = small_cnn()
    x, _ = batch(10)
    codes = []
    ref = copy.deepcopy(net).train()
    for m in ref.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda m, i, o: codes.append((i[0] > 0).reshape(len(x), -1)))
    with torch.no_grad():
        ref(x)
    c = torch.cat(codes, 1).numpy()
    K = np.array([[np.sum(c[i] == c[j]) for j in range(len(x))] for i in range(len(x))], dtype=np.float64)
    expected = np.linalg.slogdet(K)[1]
    assert get_proxy("naswot")(net, x).raw == pytest.approx(expected, rel=1e-10)


def test_zico_equals_numpy_formula():
    net = small_cnn()
    x, y = batch(8)
    ref = copy.deepcopy(net).train()
    ws = [m.weight for m in ref.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    per = [[], [], []]
    for xb, yb in ((x[:4], y[:4]), (x[4:], y[4:])):
        for k, g in enumerate(torch.autograd.grad(F.cross_entropy(ref(xb), yb), ws)):
            per[k].append(g.flatten().numpy().astype(np.float64))
    expected = 0.0
    for layer in per:
        G = np.stack(layer)
        std, mean_abs = G.std(0), np.abs(G).mean(0)
        nz = std != 0
        expected += np.log(np.sum(mean_abs[nz] / std[nz]))
    assert get_proxy("zico")(net, x, y).raw == pytest.approx(expected, rel=1e-5)


def test_zen_equals_manual_computation():
    from tenas.indicators.zoo._common import generator
    from tenas.indicators.zoo.zen import gaussian_init_

    net = small_cnn()
    x, _ = batch(6)
    ref = copy.deepcopy(net).train()
    g = generator(7)
    gaussian_init_(ref, g)
    a = torch.randn(x.shape, generator=g)
    e = torch.randn(x.shape, generator=g)
    body = ref[:6]  # everything before the global pooling
    with torch.no_grad():
        f1 = body(a)
        h0 = ref[0](a)
        h1 = ref[3](ref[2](ref[1](h0)))
        var0 = h0.var(dim=(0, 2, 3), unbiased=True).mean() + ref[1].eps
        var1 = h1.var(dim=(0, 2, 3), unbiased=True).mean() + ref[4].eps
        f2 = body(a + 0.01 * e)
    expected = math.log(float((f1 - f2).abs().sum((1, 2, 3)).mean())) + 0.5 * math.log(float(var0)) + 0.5 * math.log(float(var1))
    assert get_proxy("zen")(net, x, seed=7).raw == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------------------------------
# the contract: deterministic, caller's model untouched, works on NB201 networks
# --------------------------------------------------------------------------------------------------
def _snapshot(model: nn.Module):
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            [p.grad for p in model.parameters()], model.training)


def _available(name: str) -> bool:
    return name not in ("ntk", "regions") or HAVE_TENAS_INDICATORS


@pytest.mark.parametrize("name", ALL)
def test_proxy_leaves_model_untouched_and_is_deterministic(name):
    if not _available(name):
        pytest.skip("tenas.indicators.ntk / regions / init not there yet")
    net = tiny_nb201()
    net.eval()
    before = _snapshot(net)
    if name == "regions":
        x, y = torch.randn(64, 4, 3, 3, generator=torch.Generator().manual_seed(0)), None
        from tenas.spaces.nb201 import TinyNetwork, to_cell

        net = TinyNetwork([[op] for op in to_cell(5000)], C=4, N=1, use_stem=False, depth=1).eval()
        before = _snapshot(net)
    else:
        x, y = batch(8, (3, 8, 8), classes=10)
    a = get_proxy(name)(net, x, y, seed=11)
    b = get_proxy(name)(net, x, y, seed=11)
    assert a == b
    after = _snapshot(net)
    assert after[2] == before[2]
    assert all(g is None for g in after[1])
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), (name, k)
    assert math.isfinite(a.raw), (name, a)
    assert a.oriented == (a.raw if get_proxy(name).higher_is_better else -a.raw)


@pytest.mark.parametrize("name", ["zen", "ntk", "regions"])
def test_seeded_proxies_depend_on_the_seed(name):
    if not _available(name):
        pytest.skip("tenas.indicators.ntk / regions / init not there yet")
    if name == "regions":
        from tenas.spaces.nb201 import TinyNetwork, to_cell

        net = TinyNetwork([[op] for op in to_cell(5000)], C=1, N=1, use_stem=False, depth=1)
        x = torch.randn(300, 1, 3, 3, generator=torch.Generator().manual_seed(0))
        y = None
    else:
        net = tiny_nb201()
        x, y = batch(8, (3, 8, 8), classes=10)
    values = {get_proxy(name)(net, x, y, seed=s).raw for s in range(4)}
    assert len(values) > 1


def test_loss_proxies_need_targets():
    with pytest.raises(ValueError, match="targets"):
        get_proxy("snip")(small_cnn(), batch()[0], None)


@pytest.mark.skipif(not HAVE_TENAS_INDICATORS, reason="tenas.indicators not there yet")
def test_ntk_and_regions_wrap_the_te_nas_indicators_with_te_nas_inits():
    from tenas.indicators.init import kaiming_init_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.indicators.regions import count_linear_regions
    from tenas.indicators.zoo._common import generator
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    net = tiny_nb201()
    x, _ = batch(6, (3, 8, 8), classes=10)
    ref = kaiming_init_(copy.deepcopy(net), mode="fan_out", generator=generator(5))
    kappa = ntk_condition_number(ref, x)
    score = get_proxy("ntk")(net, x, seed=5)
    assert score.raw == pytest.approx(kappa, rel=1e-9) and score.oriented == -score.raw
    assert get_proxy("ntk")(net, x, init=None).raw == pytest.approx(ntk_condition_number(net, x), rel=1e-9)
    thin = TinyNetwork([[op] for op in to_cell(5000)], C=1, N=1, use_stem=False, depth=1)
    crops = torch.randn(200, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    ref = kaiming_init_(copy.deepcopy(thin), mode="fan_in", generator=generator(5))
    assert get_proxy("regions")(thin, crops, seed=5).raw == count_linear_regions(ref, crops)
