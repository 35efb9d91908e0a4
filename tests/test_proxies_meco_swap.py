"""MeCo, SWAP and regularised SWAP against hand-checked and brute-force expectations, plus the common
contract: the caller's model untouched, deterministic given a seed, runs on a NAS-Bench-201 network."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.registry import get_proxy, list_proxies

torch.set_num_threads(1)

NEW = ["meco", "swap", "reg_swap"]
REG = dict(mu=0.5, sigma=2.0)  # any mu/sigma: reg_swap has no default (no published NB201 values in the code)


def small_cnn() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3), nn.ReLU(),
    )


def nb201(arch: int = 5000, C: int = 8) -> nn.Module:
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    torch.manual_seed(3)
    return TinyNetwork([[op] for op in to_cell(arch)], C=C, N=1, num_classes=10)


def batch(n: int = 8, shape=(3, 8, 8), seed: int = 0) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


def options(name: str) -> dict:
    return REG if name == "reg_swap" else {}


def test_the_new_proxies_are_registered_with_paper_and_orientation():
    assert set(NEW) <= set(list_proxies())
    for name in NEW:
        p = get_proxy(name)
        assert p.paper and p.summary and p.higher_is_better, name


# --------------------------------------------------------------------------------------------------
# MeCo
# --------------------------------------------------------------------------------------------------
def pick_channels(n_out: int) -> nn.Sequential:
    """1x1 conv, no bias: out channel k = in channel k for k < 2, zero (a constant channel) after."""
    conv = nn.Conv2d(2, n_out, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0
        conv.weight[1, 1] = 1.0
    return nn.Sequential(conv)


def test_meco_hand_checked_two_channels_and_a_constant_one():
    # sample 0: channel a = 1,2,3,4 and b = 1,3,2,4 over the 2x2 positions. Deviations from the mean 2.5:
    # a: -1.5,-.5,.5,1.5; b: -1.5,.5,-.5,1.5 -> sum of products 4, sums of squares 5 -> r = 0.8.
    # The third channel is constant (0): its row/column of the correlation is NaN, zeroed. The matrix
    # [[1, .8, 0], [.8, 1, 0], [0, 0, 0]] has eigenvalues 0, 0.2, 1.8: minimum 0.
    x = torch.tensor([[[[1.0, 2], [3, 4]], [[1, 3], [2, 4]]],
                      [[[9.0, 1], [5, 2]], [[0, 0], [7, 1]]]])  # sample 1 is ignored
    assert get_proxy("meco")(pick_channels(3), x).raw == pytest.approx(0.0, abs=1e-12)
    # without the constant channel: eigenvalues 1 - 0.8 and 1 + 0.8. The conv's output is also the root
    # Sequential's output and every module is hooked, so it counts twice (as in the official code)
    two = pick_channels(2)
    assert get_proxy("meco")(two, x).raw == pytest.approx(2 * 0.2, rel=1e-12)
    assert get_proxy("meco")(two[0], x).raw == pytest.approx(0.2, rel=1e-12)


def _numpy_meco(net: nn.Module, x: torch.Tensor) -> float:
    ref = copy.deepcopy(net).train()
    outs = []
    for m in ref.modules():
        m.register_forward_hook(lambda m, i, o: outs.append(o.detach().clone() if torch.is_tensor(o) else o))
    with torch.no_grad():
        ref(x)
    total = 0.0
    for o in outs:
        if not (isinstance(o, torch.Tensor) and o.dim() == 4 and o.shape[1] > 1):
            continue
        f = o[0].numpy().astype(np.float64).reshape(o.shape[1], -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.corrcoef(f) if f.shape[1] > 1 else np.full((len(f), len(f)), np.nan)
        c[~np.isfinite(c)] = 0.0
        total += float(np.min(np.real(np.linalg.eigvals(c))))
    return total


def test_meco_equals_numpy_on_every_module():
    net = small_cnn()
    x = batch(3)
    expected = _numpy_meco(net, x)
    assert get_proxy("meco")(net, x).raw == pytest.approx(expected, rel=1e-9, abs=1e-9)
    nb = nb201()
    x = batch(2, (3, 8, 8), seed=1)
    assert get_proxy("meco")(nb, x).raw == pytest.approx(_numpy_meco(nb, x), rel=1e-8, abs=1e-8)


def test_meco_needs_feature_maps():
    mlp = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="4-D"):
        get_proxy("meco")(mlp, torch.randn(4, 5))


# --------------------------------------------------------------------------------------------------
# SWAP
# --------------------------------------------------------------------------------------------------
def sign_net() -> nn.Sequential:
    """1x1 conv with weights (1, 2, -1) -> ReLU, then a ReLU on a 2-D input (ignored by SWAP)."""
    conv = nn.Conv2d(1, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0, -1.0]).reshape(3, 1, 1, 1))
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(6, 4), nn.ReLU())


def test_swap_hand_checked_patterns():
    # samples (positions p0, p1): s0 = (1, -1), s1 = (1, 2), s2 = (-1, 3). Across the 3 samples:
    # channel x: p0 (1,1,0), p1 (0,1,1); channel 2x: the same two patterns; channel -x: (0,0,1), (1,0,0).
    # 6 neurons, 4 distinct patterns. The last ReLU (2-D input) is not counted.
    x = torch.tensor([[1.0, -1.0], [1.0, 2.0], [-1.0, 3.0]]).reshape(3, 1, 1, 2)
    assert get_proxy("swap")(sign_net(), x, gaussian_init=False).raw == 4
    # regulariser: P = 3 + 6*4 + 4 = 31 parameters = 0.031 thousand
    factor = math.exp(-((0.031 - 0.011) ** 2) / 0.001)
    got = get_proxy("reg_swap")(sign_net(), x, mu=0.011, sigma=0.001, gaussian_init=False).raw
    assert got == pytest.approx(4 * factor, rel=1e-12)


def _brute_force_swap(net: nn.Module, x: torch.Tensor) -> int:
    codes = []
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda m, i, o: codes.append(o.detach().numpy().reshape(len(x), -1) > 0)
                                    if i[0].dim() == 4 else None)
    with torch.no_grad():
        net.train()(x)
    A = np.concatenate(codes, 1)  # samples x neurons
    return len({tuple(column) for column in A.T})


def test_swap_equals_brute_force_with_and_without_gaussian_init():
    from tenas.indicators.zoo._common import generator
    from tenas.indicators.zoo.zen import gaussian_init_

    net = small_cnn()
    x = batch(12)  # 640 neurons, 4096 possible patterns: not saturated (589 distinct with these weights)
    assert get_proxy("swap")(net, x, gaussian_init=False).raw == _brute_force_swap(copy.deepcopy(net), x)
    ref = copy.deepcopy(net)
    g = generator(9)
    runs = []
    for _ in range(3):
        gaussian_init_(ref, g)
        runs.append(_brute_force_swap(ref, x))
    assert get_proxy("swap")(net, x, seed=9, repeats=3).raw == pytest.approx(sum(runs) / 3)
    assert get_proxy("swap")(net, x, seed=9).raw == runs[0]


def test_pattern_count_beyond_one_packed_word():
    from tenas.indicators.zoo.swap import count_distinct_patterns

    g = np.random.default_rng(0)
    for n_samples in (1, 3, 62, 63, 130):
        codes = g.random((n_samples, 40)) < 0.5
        codes = np.concatenate([codes, codes[:, :7]], 1)  # 7 duplicated neurons
        expected = len({tuple(c) for c in codes.T})
        assert count_distinct_patterns(torch.from_numpy(codes)) == expected, n_samples


def test_swap_errors():
    mlp = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    with pytest.raises(ValueError, match="4-D"):
        get_proxy("swap")(mlp, torch.randn(4, 5))
    with pytest.raises(ValueError, match="mu and sigma"):
        get_proxy("reg_swap")(small_cnn(), batch(4))
    with pytest.raises(ValueError, match="sigma"):
        get_proxy("reg_swap")(small_cnn(), batch(4), mu=1.0, sigma=0.0)


# --------------------------------------------------------------------------------------------------
# the contract
# --------------------------------------------------------------------------------------------------
def _snapshot(model: nn.Module):
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            [p.grad for p in model.parameters()], [m.training for m in model.modules()])


@pytest.mark.parametrize("name, gaussian", [("meco", None), ("swap", True), ("swap", False),
                                            ("reg_swap", True)])
def test_proxy_leaves_model_untouched_and_is_deterministic(name, gaussian):
    net = nb201()
    net.eval()
    before = _snapshot(net)
    x = batch(6, (3, 8, 8))
    kw = options(name) | ({} if gaussian is None else {"gaussian_init": gaussian})
    a = get_proxy(name)(net, x, None, seed=11, **kw)
    b = get_proxy(name)(net, x, None, seed=11, **kw)
    assert a == b and math.isfinite(a.raw) and a.oriented == a.raw
    after = _snapshot(net)
    assert after[2] == before[2]
    assert all(g is None for g in after[1])
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), (name, k)


def test_swap_depends_on_the_seed_and_meco_does_not():
    net = nb201(C=4)
    x = batch(8, (3, 8, 8))
    assert len({get_proxy("swap")(net, x, seed=s).raw for s in range(4)}) > 1
    assert len({get_proxy("meco")(net, x, seed=s).raw for s in range(3)}) == 1


@pytest.mark.parametrize("arch", [0, 5000, 15624])
def test_runs_on_nas_bench_201_networks(arch):
    net = nb201(arch)
    x = batch(4, (3, 8, 8), seed=arch)
    neurons = []
    hooks = [m.register_forward_hook(lambda m, i, o: neurons.append(o[0].numel()) if i[0].dim() == 4 else None)
             for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    for name in NEW:
        v = get_proxy(name)(net, x, None, seed=1, **options(name)).raw
        assert math.isfinite(v), (name, arch)
    s = get_proxy("swap")(net, x, None, seed=1).raw
    assert 1 <= s <= min(sum(neurons), 2 ** len(x))
    assert get_proxy("meco")(net, x[:1]).raw == pytest.approx(_numpy_meco(net, x[:1]), rel=1e-8, abs=1e-8)


def test_cli_score_computes_them(capsys):
    from tenas.cli import main

    tiny = ["--C", "2", "--N", "1", "--batch-size", "8"]
    assert main(["score", "5000", "--proxies", "meco,swap", "--seed", "3", *tiny]) == 0
    text = capsys.readouterr().out
    assert "meco^" in text and "swap^" in text and "failed" not in text


def test_every_sign_pattern_is_distinct_when_neurons_span_them():
    # 3 samples; 8 one-position channels whose signs over the samples are the 8 patterns of 3 bits
    signs = np.array(list(itertools.product([1.0, -1.0], repeat=3))).T  # 3 samples x 8 channels
    conv = nn.Conv2d(8, 8, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(8).reshape(8, 8, 1, 1))
    x = torch.from_numpy(signs).float().reshape(3, 8, 1, 1)
    assert get_proxy("swap")(nn.Sequential(conv, nn.ReLU()), x, gaussian_init=False).raw == 8
