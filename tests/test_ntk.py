"""kappa_N against an independent brute-force computation and hand-checked kernels; bad inputs; the model
is left untouched."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.ntk import condition_number, ntk_condition_number, ntk_matrix

torch.set_num_threads(1)
RTOL = 1e-4


# --------------------------------------------------------------------------------------------------
# the brute force: TE-NAS' procedure written out, on a deep copy, numpy eigensolver
# --------------------------------------------------------------------------------------------------
def brute_force_ntk(model: nn.Module, x: torch.Tensor, full: bool = False) -> np.ndarray:
    net = copy.deepcopy(model).train()
    out = net(x)
    if isinstance(out, tuple):
        out = out[-1]
    rows = out.reshape(len(x), -1)
    targets = [rows[i].sum() for i in range(len(x))] if not full else list(rows.reshape(-1))
    grads = []
    for t in targets:
        net.zero_grad(set_to_none=True)
        t.backward(retain_graph=True)
        grads.append(np.concatenate([p.grad.detach().double().numpy().ravel()
                                     for name, p in net.named_parameters()
                                     if "weight" in name and p.grad is not None]))
    jac = np.stack(grads)
    return jac @ jac.T


def brute_force_kappa(model, x, full=False) -> float:
    eig = np.linalg.eigvalsh(brute_force_ntk(model, x, full))
    return float(eig[-1] / eig[0])


# --------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------
def mlp(bias=True):
    return nn.Sequential(nn.Linear(6, 5, bias=bias), nn.ReLU(), nn.Linear(5, 4, bias=bias), nn.ReLU(),
                         nn.Linear(4, 3, bias=bias))


def cnn_bn():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 5, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(5), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3))


def cnn_no_bias():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 25, 3, bias=False))


class WithUnused(nn.Module):
    """Parameters the output does not depend on (a whole layer, a stray weight) and a frozen one."""

    def __init__(self):
        super().__init__()
        self.body = mlp()
        self.unused = nn.Linear(6, 7)
        self.stray_weight = nn.Parameter(torch.randn(3))
        self.frozen = nn.Linear(3, 3)
        self.frozen.weight.requires_grad_(False)

    def forward(self, x):
        return self.frozen(self.body(x))


def nb201_supernet():
    from tenas.spaces.nb201 import supernet

    return supernet(C=3, N=1)


CASES = {
    "mlp": (mlp, (5, 6)),
    "mlp_no_bias": (lambda: mlp(bias=False), (5, 6)),
    "cnn_bn": (cnn_bn, (6, 3, 6, 6)),
    "cnn_no_bias": (cnn_no_bias, (5, 3, 5, 5)),
    "unused_params": (WithUnused, (5, 6)),
    "nb201_supernet": (nb201_supernet, (5, 3, 8, 8)),
}


def make(name, dtype=torch.float64, seed=0):
    build, shape = CASES[name]
    torch.manual_seed(seed)
    model = build().to(dtype)
    x = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed + 1))
    return model, x


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("method", ["loop", "batched", "threads"])
def test_kernel_and_kappa_match_brute_force(name, method):
    model, x = make(name)
    expected = brute_force_ntk(model, x)
    got = ntk_matrix(model, x, method=method).numpy()
    assert got.dtype == np.float64 and got.shape == (len(x), len(x))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    assert ntk_condition_number(model, x, method=method) == pytest.approx(brute_force_kappa(model, x), rel=RTOL)


@pytest.mark.parametrize("name", ["cnn_bn", "nb201_supernet"])
def test_float32_models_match_brute_force(name):
    model, x = make(name, dtype=torch.float32)
    assert ntk_condition_number(model, x) == pytest.approx(brute_force_kappa(model, x), rel=RTOL)


@pytest.mark.parametrize("name", ["mlp", "cnn_bn"])
def test_full_kernel_matches_brute_force(name):
    model, x = make(name)
    x = x[:2] if name == "mlp" else x[:4]  # an MLP's full kernel is singular beyond ~7 rows
    expected = brute_force_ntk(model, x, full=True)
    got = ntk_matrix(model, x, kernel="full").numpy()
    assert got.shape == (len(x) * 3, len(x) * 3)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    assert ntk_condition_number(model, x, kernel="full", method="batched") == pytest.approx(
        brute_force_kappa(model, x, full=True), rel=RTOL)


def test_batchnorm_couples_the_samples():
    """In train mode a sample's gradient depends on the rest of the batch (so per-sample vmap would be wrong)."""
    model, x = make("cnn_bn")
    k_all = ntk_matrix(model, x).numpy()
    k_sub = ntk_matrix(model, x[:3]).numpy()
    assert not np.allclose(k_all[:3, :3], k_sub, rtol=1e-6)
    model2, x2 = make("mlp")  # no BatchNorm: sub-batch kernel is the sub-matrix
    np.testing.assert_allclose(ntk_matrix(model2, x2).numpy()[:3, :3], ntk_matrix(model2, x2[:3]).numpy(), rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# hand-checked kernels
# --------------------------------------------------------------------------------------------------
def test_linear_model_kernel_is_outputs_times_gram():
    """y = W x + b: d(sum_c y_c)/dW = 1 (x) x, so NTK = C * X X^T (bias is not a 'weight')."""
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64)
    model = nn.Linear(7, 4).double()
    gram = (x @ x.T).numpy()
    np.testing.assert_allclose(ntk_matrix(model, x).numpy(), 4 * gram, rtol=1e-12)
    eig = np.linalg.eigvalsh(gram)
    assert ntk_condition_number(model, x) == pytest.approx(eig[-1] / eig[0], rel=1e-10)
    # full kernel: K[(i,c),(j,d)] = delta_cd x_i . x_j
    np.testing.assert_allclose(ntk_matrix(model, x, kernel="full").numpy(), np.kron(gram, np.eye(4)), rtol=1e-12, atol=1e-12)


def test_two_layer_linear_kernel_by_hand():
    """y = v . (W x): d y / d W = v x^T, d y / d v = W x, so NTK_ij = |v|^2 x_i.x_j + (W x_i).(W x_j)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 1, bias=False)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    w, v = model[0].weight.detach(), model[1].weight.detach()
    h = x @ w.T
    expected = (v.square().sum() * (x @ x.T) + h @ h.T).numpy()
    np.testing.assert_allclose(ntk_matrix(model, x).numpy(), expected, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# condition number conventions
# --------------------------------------------------------------------------------------------------
def test_condition_number_conventions():
    assert condition_number(torch.tensor([[4.0, 0.0], [0.0, 2.0]])) == pytest.approx(2.0)
    assert condition_number(torch.tensor([[3.0]])) == 1.0
    assert condition_number(torch.diag(torch.tensor([1.0, 0.0]))) == math.inf
    assert condition_number(torch.diag(torch.tensor([1.0, -1.0]))) == math.inf
    assert condition_number(torch.zeros(3, 3)) == math.inf
    assert condition_number(torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]])) == math.inf
    assert condition_number(torch.tensor([[float("inf"), 0.0], [0.0, 1.0]])) == math.inf
    assert condition_number(torch.diag(torch.tensor([1e308, 1e-308]))) == math.inf  # overflowing ratio
    with pytest.raises(ValueError, match="square"):
        condition_number(torch.ones(2, 3))


def test_dead_network_gives_inf_not_nan():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(-1.0)  # every ReLU off: only the last layer's gradient, which is 0
        model[2].weight.zero_()
    assert ntk_condition_number(model, torch.randn(5, 4)) == math.inf


def test_batch_of_one_gives_one():
    model, x = make("mlp")
    assert ntk_condition_number(model, x[:1]) == 1.0
    conv, xc = make("cnn_bn")  # BatchNorm2d has 36 values per channel even for one image
    assert ntk_condition_number(conv, xc[:1]) == 1.0


# --------------------------------------------------------------------------------------------------
# bad inputs
# --------------------------------------------------------------------------------------------------
def test_wrong_input_shape_names_the_expected_shape():
    from tenas.spaces.nb201 import supernet

    net = supernet()
    with pytest.raises(ValueError, match=r"expects \(N, 3, H, W\)"):
        ntk_condition_number(net, torch.randn(4, 32, 32))  # missing channel dimension
    with pytest.raises(ValueError, match=r"\(4, 1, 8, 8\).*expects \(N, 3, H, W\)"):
        ntk_condition_number(net, torch.randn(4, 1, 8, 8))
    with pytest.raises(ValueError, match=r"expects \(N, \.\.\., 6\)"):
        ntk_condition_number(mlp(), torch.randn(4, 5))


def test_empty_batch_and_no_weights_raise():
    with pytest.raises(ValueError, match="empty"):
        ntk_condition_number(mlp(), torch.randn(0, 6))
    with pytest.raises(ValueError, match="weight"):
        ntk_condition_number(nn.Sequential(nn.Flatten(), nn.ReLU()), torch.randn(3, 6))
    frozen = mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="weight"):
        ntk_condition_number(frozen, torch.randn(3, 6))
    with pytest.raises(TypeError):
        ntk_condition_number(mlp(), np.zeros((3, 6)))
    with pytest.raises(ValueError, match="kernel"):
        ntk_matrix(mlp(), torch.randn(3, 6), kernel="diag")
    with pytest.raises(ValueError, match="method"):
        ntk_matrix(mlp(), torch.randn(3, 6), method="magic")


def test_batch_of_one_with_train_mode_batchnorm1d_has_a_clear_message():
    model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="at least 2"):
        ntk_condition_number(model, torch.randn(1, 6))


def test_output_without_batch_dimension_is_refused():
    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 3)

        def forward(self, x):
            return self.fc(x).sum()

    with pytest.raises(ValueError, match="batch dimension"):
        ntk_condition_number(Pooled(), torch.randn(4, 6))


# --------------------------------------------------------------------------------------------------
# nothing left behind
# --------------------------------------------------------------------------------------------------
def test_model_is_left_untouched():
    model, x = make("cnn_bn", dtype=torch.float32)
    model.eval()
    model[1].train()  # mixed modes must come back as they were
    with torch.no_grad():
        model[1].running_mean.uniform_()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    value = ntk_condition_number(model, x)
    assert ntk_condition_number(model, x, method="batched") == pytest.approx(value, rel=1e-5)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert ntk_condition_number(model, x) == value  # deterministic


def test_threads_method_is_exact_and_restores_the_thread_count():
    """Rows computed from worker threads equal the one-row-at-a-time loop bitwise when both run single-threaded
    ops, whatever torch's thread count was before, and torch's thread count is restored."""
    model, x = make("nb201_supernet", dtype=torch.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        loop = ntk_matrix(model, x, method="loop")
        torch.set_num_threads(2)
        threaded = ntk_matrix(model, x, method="threads")
        assert torch.get_num_threads() == 2
        auto = ntk_matrix(model, x)  # CPU: "auto" is "threads"
    finally:
        torch.set_num_threads(before)
    assert torch.equal(threaded, loop)
    assert torch.equal(auto, loop)


def test_threads_method_reraises_a_worker_error():
    class Broken(torch.autograd.Function):
        calls = 0

        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            Broken.calls += 1
            if Broken.calls > 2:
                raise RuntimeError("broken backward")
            return g

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return Broken.apply(self.fc(x))

    with pytest.raises(RuntimeError, match="broken backward"):
        ntk_matrix(Model(), torch.randn(6, 4), method="threads")


def test_tuple_output_uses_the_logits():
    class FeaturesAndLogits(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp().double()

        def forward(self, x):
            return x * 2, self.body(x)

    model, x = make("mlp")
    wrapped = FeaturesAndLogits()
    wrapped.body.load_state_dict(model.state_dict())
    np.testing.assert_allclose(ntk_matrix(wrapped, x).numpy(), ntk_matrix(model, x).numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# the NB201 cell's fused path (one conv + one BatchNorm per source node) computes the same function
# --------------------------------------------------------------------------------------------------
def _op_by_op(net):
    from tenas.spaces.nb201 import Cell201

    ref = copy.deepcopy(net)
    for m in ref.modules():
        if isinstance(m, Cell201):
            m.fused = False
    return ref


@pytest.mark.parametrize("trial", range(6))
def test_fused_nb201_cell_equals_op_by_op(trial):
    from tenas.spaces.nb201 import supernet

    rng = np.random.default_rng(trial)
    mask = None if trial == 0 else rng.random((6, 5)) < 0.5
    torch.manual_seed(trial)
    net = supernet(mask, C=4).double()
    ref = _op_by_op(net)
    train = trial != 5
    net.train(train), ref.train(train)
    x = torch.randn(5, 3, 8, 8, dtype=torch.float64)
    y, y_ref = net(x), ref(x)
    np.testing.assert_allclose(y.detach().numpy(), y_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    params, params_ref = list(net.parameters()), list(ref.parameters())
    grads = torch.autograd.grad(y.square().sum(), params, allow_unused=True)
    grads_ref = torch.autograd.grad(y_ref.square().sum(), params_ref, allow_unused=True)
    for g, g_ref in zip(grads, grads_ref):
        g = torch.zeros(1, dtype=torch.float64) if g is None else g
        g_ref = torch.zeros(1, dtype=torch.float64) if g_ref is None else g_ref
        np.testing.assert_allclose(g.numpy(), g_ref.numpy(), rtol=1e-9, atol=1e-12)
    for (name, b), (_, b_ref) in zip(net.named_buffers(), ref.named_buffers()):  # running statistics
        np.testing.assert_allclose(b.double().numpy(), b_ref.double().numpy(), rtol=1e-10, atol=1e-14, err_msg=name)
    if trial == 0:
        assert ntk_condition_number(net, x) == pytest.approx(ntk_condition_number(ref, x), rel=1e-9)


def test_fused_nb201_cell_steps_aside_for_hooks():
    from tenas.spaces.nb201 import thin_supernet

    net = thin_supernet()
    seen = []
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    handles = [m.register_forward_hook(lambda mod, inp, out: seen.append(mod)) for m in relus]
    net(torch.randn(4, 1, 3, 3))
    assert len(seen) == len(relus)  # every ReLU module ran
    for h in handles:
        h.remove()


def test_threads_method_from_several_user_threads_keeps_the_thread_count():
    from concurrent.futures import ThreadPoolExecutor

    model, x = make("cnn_bn", dtype=torch.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        expected = ntk_matrix(model, x, method="threads")
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: ntk_matrix(model, x, method="threads"), range(8)))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(r, expected) for r in results)
