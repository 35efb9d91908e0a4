"""VKDNW and VKDNW_single against closed forms, brute-force per-sample autograd loops and the official
formulas written out entry by entry, plus the common contract: the caller's model untouched, deterministic
given a seed, runs on NAS-Bench-201 networks."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.registry import get_proxy, list_proxies
from tenas.indicators.zoo import vkdnw as V

torch.set_num_threads(1)

LOG9 = math.log(9)


def small_cnn(classes: int = 3, track: bool = True) -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, track_running_stats=track), nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(4, track_running_stats=track), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes),
    )


def nb201(arch: int = 5000, C: int = 8) -> nn.Module:
    from tenas.spaces.nb201 import TinyNetwork, to_cell

    torch.manual_seed(3)
    return TinyNetwork([[op] for op in to_cell(arch)], C=C, N=1, num_classes=10)


def batch(n: int = 4, shape=(2, 6, 6), seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_registered_with_paper_and_orientation():
    assert {"vkdnw", "vkdnw_single"} <= set(list_proxies())
    for name in ("vkdnw", "vkdnw_single"):
        p = get_proxy(name)
        assert p.paper and "CVPR 2025" in p.paper and p.summary and p.higher_is_better and p.uses == "data"


# --------------------------------------------------------------------------------------------------
# the entropy of the deciles
# --------------------------------------------------------------------------------------------------
def test_entropy_of_hand_checked_spectra():
    # uniform spectrum: nine equal deciles 3, t = 3 / (27 + 1e-10) each -> -9 t log(t + 1e-10) ~ log 9
    t = 3 / (27 + 1e-10)
    assert V.quantile_entropy(torch.full((50,), 3.0)) == pytest.approx(-9 * t * math.log(t + 1e-10), abs=1e-14)
    assert V.quantile_entropy(torch.full((50,), 3.0)) == pytest.approx(LOG9, abs=1e-8)
    # nine zeros and a one: deciles at positions 0.9, 1.8, ..., 8.1 of the sorted values are all 0 but the last
    # (0.1 of the way from 0 to 1) -> one-hot t -> entropy 0
    assert V.quantile_entropy(torch.tensor([0.0] * 9 + [1.0])) == pytest.approx(0.0, abs=1e-9)
    # 0, 1, ..., 9: decile k at position 0.9 k -> value 0.9 k -> t_k = k / 45
    expected = -sum((k / 45) * math.log(k / 45) for k in range(1, 10))
    lam = torch.arange(10.0)[torch.randperm(10, generator=torch.Generator().manual_seed(1))]  # order is irrelevant
    assert V.quantile_entropy(lam) == pytest.approx(expected, abs=1e-9)
    # scale-free (up to the 1e-10 epsilons): t is normalised
    assert V.quantile_entropy(1e3 * torch.arange(10.0)) == pytest.approx(expected, abs=1e-9)
    # all zero: t = 0 (the official formula gives 0, not NaN)
    assert V.quantile_entropy(torch.zeros(7)) == 0.0
    assert math.isnan(V.quantile_entropy(torch.tensor([1.0, float("nan")])))
    with pytest.raises(ValueError):
        V.quantile_entropy(torch.zeros(0))


def test_entropy_equals_numpy_deciles():
    g = np.random.default_rng(0)
    for n in (2, 9, 37, 128):
        lam = g.exponential(size=n) ** 3
        q = np.quantile(lam, np.arange(1, 10) / 10)  # numpy's default is the same linear interpolation
        t = q / (np.abs(q).sum() + 1e-10)
        assert V.quantile_entropy(torch.from_numpy(lam)) == pytest.approx(float(-(t * np.log(t + 1e-10)).sum()),
                                                                          rel=1e-12)


# --------------------------------------------------------------------------------------------------
# the probabilities and the covariance factor of the official code
# --------------------------------------------------------------------------------------------------
def test_official_probabilities_use_float16_constants():
    z = torch.zeros(1, 10)
    p = V.official_probabilities(z)
    # 0.05 in float16 is 0.04998779296875; 1 - a there is 0.9501953125 and a / 10 is 0.00499725341796875
    assert p[0, 0].item() == pytest.approx(0.9501953125 / 10 + 0.00499725341796875, abs=1e-15)
    assert p.sum().item() == pytest.approx(0.9501953125 + 10 * 0.00499725341796875, abs=1e-12)  # 1.00017, not 1
    official = torch.softmax(z, 1) * (1 - torch.tensor(0.05, dtype=torch.float16)) \
        + torch.tensor(0.05, dtype=torch.float16) / 10  # the official expression, float32
    assert torch.allclose(p.float(), official, atol=1e-8)


def test_factor_of_two_classes_by_hand():
    # p = (a, 1 - a): q_1 = 1 - a, q_2 = 0 -> d_1 = sqrt(a (1 - a)), d_2 = 0; L = [[s, 0], [-s, 0]], s = d_1.
    # L L^T = a(1-a) [[1, -1], [-1, 1]] = diag(p) - p p^T, but L^T L = [[2 a (1 - a), 0], [0, 0]].
    a = 0.3
    L = V.tanabe_sagae_factor(torch.tensor([[a, 1 - a]], dtype=torch.float64))[0]
    s = math.sqrt(a * (1 - a))
    assert torch.allclose(L, torch.tensor([[s, 0.0], [-s, 0.0]], dtype=torch.float64), atol=1e-15)
    cov = a * (1 - a) * torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(L @ L.T, cov, atol=1e-15)
    assert torch.allclose(L.T @ L, torch.tensor([[2 * a * (1 - a), 0.0], [0.0, 0.0]], dtype=torch.float64))


def _factor_by_loops(p: np.ndarray) -> np.ndarray:
    """Tanabe & Sagae (1992), Theorem 1, entry by entry."""
    k = len(p)
    q = [1.0 - sum(p[: j + 1]) for j in range(k)]
    q[-1] = 0.0
    L = np.zeros((k, k))
    for j in range(k):
        d = math.sqrt(p[j] * q[j] / (1.0 if j == 0 else q[j - 1]))
        for i in range(j, k):
            L[i, j] = d if i == j else -p[i] / q[j] * d
    return L


def test_factor_is_the_exact_cholesky_factor_of_the_multinomial_covariance():
    g = torch.Generator().manual_seed(4)
    z = 3 * torch.randn(5, 7, generator=g, dtype=torch.float64)
    p = torch.softmax(z, 1) * 0.95 + 0.05 / 7
    L = V.tanabe_sagae_factor(p)
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    assert torch.allclose(L @ L.transpose(1, 2), cov, atol=1e-14)
    assert torch.equal(L, L.tril())
    for n in range(5):
        assert np.allclose(L[n].numpy(), _factor_by_loops(p[n].numpy()), atol=1e-14)
    assert (L.transpose(1, 2) @ L - cov).abs().max() > 1e-2  # the official product is not the covariance


# --------------------------------------------------------------------------------------------------
# the matrix against per-sample autograd loops
# --------------------------------------------------------------------------------------------------
def _brute_jacobian(net: nn.Module, x: torch.Tensor, entries) -> torch.Tensor:
    """d z_{n,c} / d theta_e by one batch-1 forward per sample and one autograd call per class."""
    net = copy.deepcopy(net).eval()
    params = dict(net.named_parameters())
    rows = []
    for n in range(len(x)):
        z = net(x[n:n + 1])[0]
        per_class = []
        for c in range(len(z)):
            grads = torch.autograd.grad(z[c], [params[name] for name, _ in entries], retain_graph=True,
                                        allow_unused=True)
            cols = []
            for (name, idx), gr in zip(entries, grads):
                gr = torch.zeros_like(params[name]) if gr is None else gr
                cols.extend(float(gr.reshape(-1)[i]) for i in idx.tolist())
            per_class.append(cols)
        rows.append(per_class)
    return torch.tensor(rows, dtype=torch.float64)


def _brute_exact_fisher(net: nn.Module, x: torch.Tensor, entries, alpha: float) -> torch.Tensor:
    """(1/N) sum_n sum_y p_y s_y s_y^T, s_y the score d/dtheta [z_y - p . z] (p smoothed, held fixed); with
    alpha = 0 the score is d log softmax(z)_y / d theta: the Fisher with labels drawn from the model."""
    net = copy.deepcopy(net).eval()
    params = dict(net.named_parameters())
    total = 0.0
    for n in range(len(x)):
        z = net(x[n:n + 1])[0]
        k = len(z)
        p = (torch.softmax(z, 0) * (1 - alpha) + alpha / k).detach()
        for y in range(k):
            target = torch.log_softmax(z, 0)[y] if alpha == 0 else z[y] - (p * z).sum()
            grads = torch.autograd.grad(target, [params[name] for name, _ in entries], retain_graph=True,
                                        allow_unused=True)
            s = torch.tensor([0.0 if gr is None else float(gr.reshape(-1)[i])
                              for (name, idx), gr in zip(entries, grads) for i in idx.tolist()], dtype=torch.float64)
            total = total + float(p[y]) * torch.outer(s, s)
    return total / len(x)


def _brute_official_matrix(jac: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """(1/N) sum_n (L_n J_n)^T (L_n J_n) with L_n from the loops and the float16-rounded smoothing."""
    k = z.shape[1]
    keep, floor = 0.9501953125, float(torch.tensor(0.05, dtype=torch.float16) / k)
    total = 0.0
    for n in range(len(z)):
        p = (torch.softmax(z[n].double(), 0) * keep + floor).numpy()
        lj = torch.from_numpy(_factor_by_loops(p)) @ jac[n]
        total = total + lj.T @ lj
    return total / len(z)


@pytest.mark.parametrize("method", ["jvp", "vmap"])
def test_matrix_equals_brute_force_on_a_small_cnn(method, monkeypatch):
    net = small_cnn().double().eval()
    x = batch(4, dtype=torch.float64)
    entries = V.selected_entries(net, n_tensors=7, per_tensor=2)  # both convs (weight, bias), the BN, ...
    jac, z = V.logit_jacobian(net, x, entries, method)
    assert jac.shape == (4, 3, 14)
    assert torch.allclose(jac, _brute_jacobian(net, x, entries), rtol=1e-10, atol=1e-12)
    assert torch.allclose(z, net(x).detach(), atol=1e-12)
    exact = V.fisher_matrix(jac, z, "exact")
    assert torch.allclose(exact, _brute_exact_fisher(net, x, entries, 0.05), rtol=1e-9, atol=1e-12)
    official = V.fisher_matrix(jac, z, "official")
    assert torch.allclose(official, _brute_official_matrix(jac, z), rtol=1e-9, atol=1e-12)
    assert (official - exact).abs().max() > 1e-3 * exact.abs().max()
    monkeypatch.setattr(V, "ALPHA", 0.0)  # unsmoothed: the textbook Fisher of per-sample log-likelihood gradients
    assert torch.allclose(V.fisher_matrix(jac, z, "exact"), _brute_exact_fisher(net, x, entries, 0.0),
                          rtol=1e-9, atol=1e-12)


def test_jacobian_paths_agree_with_brute_force_on_nas_bench_201():
    net = nb201(5000, C=4).eval()
    x = batch(2, (3, 8, 8), seed=2)
    entries = V.selected_entries(net)  # all 57 tensors of this network, entry 0 of each
    assert len(entries) == 57
    brute = _brute_jacobian(net, x, entries)
    for method in ("jvp", "vmap"):
        jac, _ = V.logit_jacobian(net, x, entries, method)
        assert torch.allclose(jac.double(), brute, rtol=1e-4, atol=1e-5), method


def test_interacting_samples_fall_back_to_one_sample_at_a_time():
    net = small_cnn(track=False).eval()  # eval-mode BatchNorm on batch statistics: samples interact
    x = batch(3)
    entries = V.selected_entries(net, n_tensors=4)
    with pytest.raises(V._Unsupported):
        V.jacobian_sensitivities(net, x, entries)
    jac, _ = V.logit_jacobian(net, x, entries)  # auto: vmap, each sample normalised on its own statistics
    assert torch.allclose(jac.double(), _brute_jacobian(net, x, entries), rtol=1e-4, atol=1e-6)


class Scale(nn.Module):
    """A module with a raw parameter (no closed form): its sensitivity comes from torch.func.jvp."""

    def __init__(self, c: int):
        super().__init__()
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, c).reshape(1, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x * self.gain)


def test_modules_without_a_closed_form_use_forward_mode():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), Scale(3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4)).eval()
    x = batch(3)
    entries = V.selected_entries(net, per_tensor=3)
    fast, _ = V.logit_jacobian(net, x, entries, "jvp")
    assert torch.allclose(fast.double(), _brute_jacobian(net, x, entries), rtol=1e-4, atol=1e-6)


def test_selected_entries_follow_the_official_linspace():
    net = small_cnn()
    got = V.selected_entries(net, n_tensors=3, per_tensor=3)
    assert [name for name, _ in got] == ["0.weight", "0.bias", "1.weight"]
    assert got[0][1].tolist() == [0, 26, 53]  # 3 x 2 x 3 x 3 = 54 entries
    assert got[1][1].tolist() == [0, 1, 2]
    assert [idx.tolist() for _, idx in V.selected_entries(net, per_tensor=1)] == [[0]] * 9
    for bad in ({"n_tensors": 0}, {"per_tensor": 0}):
        with pytest.raises(ValueError):
            V.selected_entries(net, **bad)
    with pytest.raises(ValueError, match="parameters"):
        V.selected_entries(nn.ReLU())


# --------------------------------------------------------------------------------------------------
# the proxies
# --------------------------------------------------------------------------------------------------
def test_proxy_is_the_entropy_of_the_matrix_it_documents():
    net = small_cnn()
    x = batch(5)
    for fisher in ("official", "exact"):
        ref = copy.deepcopy(net)
        V.kaiming_init_(ref, V.generator(7))
        ref.eval()
        jac = _brute_jacobian(ref, x, V.selected_entries(ref))
        z = ref(x).detach()
        mat = _brute_official_matrix(jac, z) if fisher == "official" else V.fisher_matrix(jac, z, "exact")
        expected = V.quantile_entropy(torch.linalg.eigvalsh(mat).abs())
        assert get_proxy("vkdnw")(net, x, seed=7, fisher=fisher).raw == pytest.approx(expected, rel=1e-4)
    no_init = get_proxy("vkdnw")(net, x, kaiming_init=False).raw
    ref = copy.deepcopy(net).eval()
    jac = _brute_jacobian(ref, x, V.selected_entries(ref))
    expected = V.quantile_entropy(torch.linalg.eigvalsh(_brute_official_matrix(jac, ref(x).detach())).abs())
    assert no_init == pytest.approx(expected, rel=1e-4)


def test_kaiming_init_is_the_official_one():
    net = small_cnn()
    with torch.no_grad():
        net[1].running_mean.fill_(3.0)
        net[1].weight.fill_(2.0)
    V.kaiming_init_(net, V.generator(0))
    conv = net[0]
    assert torch.equal(conv.bias, torch.zeros(3)) and torch.equal(net[1].weight, torch.ones(3))
    assert torch.equal(net[1].bias, torch.zeros(3)) and torch.equal(net[1].running_mean, torch.zeros(3))
    expected = torch.empty(3, 2, 3, 3)
    nn.init.kaiming_normal_(expected, mode="fan_in", nonlinearity="relu", generator=V.generator(0))
    assert torch.equal(conv.weight, expected)


@pytest.mark.parametrize("arch, convs", [(0, 2), (5000, 4), (15624, 4), (13714, 5)])
def test_runs_on_nas_bench_201_networks(arch, convs):
    net = nb201(arch)
    x = batch(4, (3, 8, 8), seed=arch)
    h = get_proxy("vkdnw")(net, x, seed=1).raw
    assert math.isfinite(h) and 0.0 <= h <= LOG9
    # aleph: stem 3 + 3 x (conv weight, BN weight, BN bias) per conv edge + two residual blocks 7 + 7 + 2 + 2
    assert V.trainable_layers(net) == 21 + 9 * convs
    single = get_proxy("vkdnw_single")(net, x, seed=1).raw
    assert single == pytest.approx(21 + 9 * convs + h / (1 + LOG9), rel=1e-12)


def test_single_ranks_by_tensor_count_first():
    x = batch(4, (3, 8, 8), seed=0)
    few, many = nb201(0), nb201(13714)  # 2 and 5 convolution edges
    s_few, s_many = (get_proxy("vkdnw_single")(n, x).raw for n in (few, many))
    assert s_many > s_few and int(s_many) - int(s_few) == 27
    assert 0 <= s_few - int(s_few) < LOG9 / (1 + LOG9)


def _snapshot(model: nn.Module):
    return ({k: v.detach().clone() for k, v in model.state_dict().items()},
            [(p.grad, p.requires_grad) for p in model.parameters()], [m.training for m in model.modules()])


@pytest.mark.parametrize("kaiming_init", [True, False])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_leaves_model_untouched_and_is_deterministic(kaiming_init, mode):
    net = nb201(5000)
    with torch.no_grad():  # non-default BatchNorm statistics, which eval mode reads
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    net.train(mode == "train")
    net.cells[0].edges[0].requires_grad_(False)
    before = _snapshot(net)
    x = batch(3, (3, 8, 8))
    a = get_proxy("vkdnw")(net, x, seed=11, kaiming_init=kaiming_init)
    b = get_proxy("vkdnw")(net, x, seed=11, kaiming_init=kaiming_init)
    assert a == b and math.isfinite(a.raw) and a.oriented == a.raw
    after = _snapshot(net)
    assert after[2] == before[2] and after[1] == before[1]
    for k, v in before[0].items():
        assert torch.equal(v, after[0][k]), k
    other = get_proxy("vkdnw")(net, x, seed=12, kaiming_init=kaiming_init).raw
    assert (other != a.raw) if kaiming_init else (other == a.raw)


def test_errors():
    with pytest.raises(ValueError, match="fisher"):
        get_proxy("vkdnw")(small_cnn(), batch(2), fisher="empirical")
    with pytest.raises(ValueError, match="method"):
        V.logit_jacobian(small_cnn(), batch(2), V.selected_entries(small_cnn()), "loop")
    with pytest.raises(ValueError, match="parameters"):
        get_proxy("vkdnw")(nn.Sequential(nn.Flatten()), batch(2))
