"""MatrixConv2d (a convolution of tiny images as one matrix product) against nn.Conv2d itself."""

import pytest
import torch

import tenas.spaces.matrix_conv as matrix_conv
from tenas.indicators.init import kaiming_init_
from tenas.indicators.regions import count_linear_regions
from tenas.spaces.darts import DartsSearchSpace
from tenas.spaces.matrix_conv import MatrixConv2d, conv2d_as_matrix

# (C_in, C_out, kernel, stride, padding, dilation, groups, bias, image size): DARTS' geometries and others
GEOMETRIES = [
    (1, 1, 5, 1, 4, 2, 1, False, 3), (1, 1, 3, 1, 1, 1, 1, False, 3), (2, 2, 5, 1, 2, 1, 2, False, 2),
    (2, 2, 3, 2, 1, 1, 2, False, 3), (2, 2, 1, 1, 0, 1, 1, False, 2), (2, 4, 3, 2, 2, 2, 2, True, 3),
    (3, 2, (3, 1), (1, 2), (1, 0), 1, 1, True, 4), (1, 2, 3, 1, 0, 1, 1, False, 3),
]


@pytest.mark.parametrize("ci,co,k,s,p,d,g,bias,size", GEOMETRIES)
def test_equals_conv2d_with_gradients(ci, co, k, s, p, d, g, bias, size):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(ci, co, k, s, p, d, groups=g, bias=bias).double()
    x = torch.randn(5, ci, size, size + (1 if size == 4 else 0), dtype=torch.float64, requires_grad=True)
    got = conv2d_as_matrix(conv, x)
    want = conv(x)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    gy = torch.randn(want.shape, dtype=torch.float64)
    params = [x] + list(conv.parameters())
    for a, b in zip(torch.autograd.grad(got, params, gy), torch.autograd.grad(want, params, gy)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_module_takes_the_matrix_path_only_for_small_inputs(monkeypatch):
    torch.manual_seed(1)
    m = MatrixConv2d(1, 1, 3, padding=1, bias=False)
    ref = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    ref.load_state_dict(m.state_dict())
    calls = []
    original = matrix_conv.conv2d_as_matrix
    monkeypatch.setattr(matrix_conv, "conv2d_as_matrix", lambda *a, **k: calls.append(1) or original(*a, **k))
    for shape, used in [((100, 1, 3, 3), True), ((4, 1, 3, 3), False), ((100, 1, 16, 16), False)]:
        calls.clear()
        x = torch.randn(shape)
        torch.testing.assert_close(m(x), ref(x), rtol=1e-5, atol=1e-6)
        assert bool(calls) == used, shape
    assert set(m.state_dict()) == {"weight"}


def test_darts_region_count_is_unchanged(monkeypatch):
    """The DARTS thin supernet counts the same regions with its convolutions as matrices as with F.conv2d."""
    space = DartsSearchSpace()
    net = space.region_network(space.initial_alive())
    kaiming_init_(net, mode="fan_in", generator=torch.Generator().manual_seed(0))
    crops = torch.randn(300, 1, 3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    net.double()
    with_matrix = count_linear_regions(net, crops, batch_size=150)
    monkeypatch.setattr(matrix_conv, "MAX_INPUTS", 0)
    with_conv2d = count_linear_regions(net, crops, batch_size=150)
    assert with_matrix == with_conv2d
    assert 1 < with_matrix <= 300
    assert any(isinstance(m, MatrixConv2d) for m in net.modules())
