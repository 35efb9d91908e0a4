"""R_N against naively collected patterns + numpy.unique, TE-NAS' own Hamming-matrix count, and by hand."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.regions import activation_patterns, count_distinct_rows, count_linear_regions

torch.set_num_threads(1)


def naive_patterns(model: nn.Module, x: torch.Tensor, batch_size: int | None = None) -> np.ndarray:
    """Every nn.ReLU output's sign, concatenated, collected with plain hooks on a train-mode deep copy."""
    net = copy.deepcopy(model).train()
    feats: list[torch.Tensor] = []
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda mod, inp, out: feats.append(out.detach().clone()))
    rows = []
    step = batch_size or len(x)
    with torch.no_grad():
        for s in range(0, len(x), step):
            feats.clear()
            net(x[s:s + step])
            rows.append(torch.cat([f.reshape(f.shape[0], -1) for f in feats], 1).sign().numpy())
    return np.concatenate(rows)


def naive_count(model, x, batch_size=None) -> int:
    return int(np.unique(naive_patterns(model, x, batch_size), axis=0).shape[0])


def hamming_count(signs: np.ndarray) -> int:
    """TE-NAS' calc_LR: n x n matrix of pattern mismatches, sum of 1 / (size of each pattern's class)."""
    a = signs.astype(np.float64)
    res = a @ (1 - a).T
    res = res + res.T
    same = 1 - np.sign(res)
    return int(round(float((1.0 / same.sum(1)).sum())))


def thin(seed=0):
    from tenas.spaces.nb201 import thin_supernet

    torch.manual_seed(seed)
    return thin_supernet()


def cnn_bn():
    return nn.Sequential(nn.Conv2d(1, 2, 2, bias=False), nn.BatchNorm2d(2), nn.ReLU(),
                         nn.Conv2d(2, 2, 2, bias=False), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 3))


def mlp():
    return nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 1))


@pytest.mark.parametrize("batch_size", [None, 100])
@pytest.mark.parametrize("name", ["thin", "cnn_bn", "mlp"])
def test_count_matches_naive_unique_and_hamming(name, batch_size):
    torch.manual_seed(0)
    model = {"thin": thin, "cnn_bn": cnn_bn, "mlp": mlp}[name]()
    shape = {"thin": (1, 3, 3), "cnn_bn": (1, 3, 3), "mlp": (2,)}[name]
    x = torch.randn((300, *shape), generator=torch.Generator().manual_seed(5))
    got = count_linear_regions(model, x, batch_size=batch_size)
    assert got == naive_count(model, x, batch_size)
    assert got == hamming_count(naive_patterns(model, x, batch_size))
    assert 1 < got <= len(x)


def test_patterns_are_the_packed_signs():
    model = thin(1)
    x = torch.randn(50, 1, 3, 3)
    packed = activation_patterns(model, x, batch_size=20)
    naive = naive_patterns(model, x, batch_size=20).astype(bool)
    assert packed.dtype == np.uint8 and packed.shape[0] == 50
    # equal rows exactly when the naive patterns are equal
    same_packed = (packed[:, None, :] == packed[None, :, :]).all(-1)
    same_naive = (naive[:, None, :] == naive[None, :, :]).all(-1)
    assert np.array_equal(same_packed, same_naive)


def test_chunks_use_their_own_batch_statistics():
    model = cnn_bn()
    x = torch.randn(400, 1, 3, 3, generator=torch.Generator().manual_seed(2))
    x[:200] *= 5  # chunks with different statistics
    whole, chunked = count_linear_regions(model, x), count_linear_regions(model, x, batch_size=200)
    assert whole == naive_count(model, x) and chunked == naive_count(model, x, 200)
    assert not np.array_equal(naive_patterns(model, x), naive_patterns(model, x, 200))


# --------------------------------------------------------------------------------------------------
# by hand
# --------------------------------------------------------------------------------------------------
def one_d_net() -> nn.Module:
    """relu(x), relu(x - 1), relu(x - 2): breakpoints at 0, 1, 2 cut the line into 4 regions."""
    net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[0].bias.copy_(torch.tensor([0.0, -1.0, -2.0]))
    return net


def test_one_d_relu_net_by_hand():
    net = one_d_net()
    line = torch.linspace(-1.5, 3.5, 101).unsqueeze(1)
    assert count_linear_regions(net, line) == 4
    assert count_linear_regions(net, torch.linspace(0.25, 1.75, 7).unsqueeze(1)) == 2  # crosses x = 1 only
    assert count_linear_regions(net, torch.full((10, 1), 0.5)) == 1


def test_two_d_hyperplane_arrangement_by_hand():
    """Three lines in general position cut the plane into 7 regions; a dense grid finds all 7."""
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    g = torch.linspace(-3, 3, 61)
    grid = torch.cartesian_prod(g, g) + 0.013  # off the lines
    assert count_linear_regions(net, grid) == 7


def test_count_distinct_rows():
    rows = np.array([[1, 2], [1, 2], [0, 2], [1, 3], [0, 2]], dtype=np.uint8)
    assert count_distinct_rows(rows) == 3
    assert count_distinct_rows(np.zeros((4, 0), np.uint8)) == 1


# --------------------------------------------------------------------------------------------------
# bad inputs and the contract
# --------------------------------------------------------------------------------------------------
def test_model_without_relu_counts_one_with_a_warning():
    with pytest.warns(UserWarning, match="no nn.ReLU"):
        assert count_linear_regions(nn.Linear(3, 2), torch.randn(10, 3)) == 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        count_linear_regions(mlp(), torch.randn(0, 2))
    with pytest.raises(ValueError, match=r"expects \(N, 1, H, W\)"):
        count_linear_regions(thin(), torch.randn(10, 3, 3))
    with pytest.raises(ValueError, match=r"expects \(N, \.\.\., 2\)"):
        count_linear_regions(mlp(), torch.randn(10, 3))
    with pytest.raises(ValueError, match="batch_size"):
        count_linear_regions(mlp(), torch.randn(10, 2), batch_size=0)
    with pytest.raises(ValueError, match="at least 2"):
        count_linear_regions(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU()), torch.randn(5, 2), batch_size=4)


def test_model_is_left_untouched_and_hooks_removed():
    model = thin(3).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(120, 1, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = count_linear_regions(model, x, batch_size=40)
    assert count_linear_regions(model, x, batch_size=40) == a
    assert not model.training and all(not m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_hooks_removed_after_an_error():
    model = mlp()
    with pytest.raises(ValueError):
        count_linear_regions(model, torch.randn(10, 5))
    assert all(not m._forward_hooks for m in model.modules())
