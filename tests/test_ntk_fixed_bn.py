"""The fixed-BatchNorm-statistics NTK estimator against a hand-written per-sample computation, against the
exact kernel where the two must agree (no BatchNorm), and on bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.ntk import ntk_condition_number, ntk_matrix
from tenas.indicators.ntk_fixed_bn import batch_statistics
from tests.test_ntk import make  # the shared model zoo

torch.set_num_threads(1)


def cnn_bn_small():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 16, 3))


def brute_force_fixed(model: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    """Per sample: conv -> BN with the batch's mean / biased variance as constants -> ReLU -> linear, summed;
    one autograd call per sample; J over the 'weight' parameters."""
    conv, bn, lin = model[0], model[1], model[4]
    with torch.no_grad():
        z = conv(x)
        mean, var = z.mean((0, 2, 3)), z.var((0, 2, 3), unbiased=False)
    rows = []
    for i in range(len(x)):
        zi = torch.nn.functional.conv2d(x[i:i + 1], conv.weight, padding=1)
        h = (zi - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + bn.eps)
        h = h * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
        out = lin(torch.relu(h).flatten(1)).sum()
        gs = torch.autograd.grad(out, [conv.weight, bn.weight, lin.weight])
        rows.append(np.concatenate([g.detach().numpy().ravel() for g in gs]))
    jac = np.stack(rows)
    return jac @ jac.T


def test_fixed_kernel_matches_per_sample_brute_force():
    torch.manual_seed(0)
    model = cnn_bn_small().double()
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    x = torch.randn(7, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    want = brute_force_fixed(model, x)
    got = ntk_matrix(model, x, bn="fixed").numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    # and it is not the exact (coupled) kernel
    exact = ntk_matrix(model, x, method="loop").numpy()
    assert np.abs(exact - want).max() > 1e-3 * np.abs(want).max()


@pytest.mark.parametrize("name", ["mlp", "cnn_no_bias", "unused_params"])
def test_without_batchnorm_fixed_equals_exact(name):
    model, x = make(name)
    exact = ntk_matrix(model, x, method="loop")
    fixed = ntk_matrix(model, x, bn="fixed")
    torch.testing.assert_close(fixed, exact, rtol=1e-10, atol=1e-12 * float(exact.abs().max()))


def test_full_kernel_sums_to_the_sum_kernel():
    model, x = make("cnn_bn")
    full = ntk_matrix(model, x, bn="fixed", kernel="full")
    n, c = x.shape[0], 3
    assert full.shape == (n * c, n * c)
    summed = full.reshape(n, c, n, c).sum((1, 3))
    torch.testing.assert_close(summed, ntk_matrix(model, x, bn="fixed"), rtol=1e-10, atol=1e-12)


def test_fused_nb201_supernet_equals_op_by_op():
    from tenas.spaces.nb201 import Cell201, supernet

    torch.manual_seed(3)
    net = supernet(C=3, N=1).double()
    x = torch.randn(6, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    ref = copy.deepcopy(net)
    for m in ref.modules():
        if isinstance(m, Cell201):
            m.fused = False
    a, b = ntk_matrix(net, x, bn="fixed"), ntk_matrix(ref, x, bn="fixed")
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * float(b.abs().max()))


def test_batch_statistics_are_what_train_mode_normalises_with():
    torch.manual_seed(0)
    model = cnn_bn_small().double()
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    stats = batch_statistics(model, x)
    z = model[0](x).detach()
    torch.testing.assert_close(stats["1"][0], z.mean((0, 2, 3)))
    torch.testing.assert_close(stats["1"][1], z.var((0, 2, 3), unbiased=False))


def test_model_is_left_untouched():
    torch.manual_seed(0)
    model = cnn_bn_small()
    model.eval()
    before = copy.deepcopy(model.state_dict())
    ntk_condition_number(model, torch.randn(6, 3, 4, 4), bn="fixed")
    assert not model.training and all(not m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


def test_bad_input_is_refused_clearly():
    no_stats = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, track_running_stats=False), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="track_running_stats"):
        ntk_matrix(no_stats, torch.randn(5, 4), bn="fixed")

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.bn = nn.Linear(4, 4), nn.BatchNorm1d(4)

        def forward(self, x):
            return self.bn(self.lin(self.bn(x)))

    with pytest.raises(ValueError, match="called once"):
        ntk_matrix(Twice(), torch.randn(5, 4), bn="fixed")
    with pytest.raises(ValueError, match="bn must be one of"):
        ntk_matrix(nn.Linear(4, 2), torch.randn(5, 4), bn="frozen")
    with pytest.raises(ValueError, match="shape"):
        ntk_matrix(cnn_bn_small(), torch.randn(5, 4), bn="fixed")
