"""tenas.spaces.flops: NAS-Bench-201's FLOPs convention, checked by hand and against published figures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tenas.spaces.flops import count_flops
from tenas.spaces.nb201 import build_network, count_parameters, supernet


@pytest.fixture(autouse=True)
def _one_thread():
    # batch-1 forwards of small networks: one intra-op thread is much faster on a shared, busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

# ------------------------------------------------------------------------------------------------
# the convention on single layers (expected values worked out by hand)
# ------------------------------------------------------------------------------------------------


def test_conv_without_bias_is_kernel_times_channels_per_output_position():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    # 3*3*3*8 = 216 multiply-adds per output position, 32*32 positions
    assert count_flops(conv, (1, 3, 32, 32)) == pytest.approx(216 * 1024 / 1e6, rel=1e-12)


def test_conv_bias_grouping_stride_and_batch():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, bias=True)
    # per position: 3*3*4*6/2 = 108, bias +6 -> 114; output 5x5 for a 10x10 input at stride 2
    expected = 114 * 25 / 1e6
    assert count_flops(conv, (1, 4, 10, 10)) == pytest.approx(expected, rel=1e-12)
    # per image: the batch size divides out
    assert count_flops(conv, (3, 4, 10, 10)) == pytest.approx(expected, rel=1e-12)


def test_linear_counts_weights_and_bias_only_bn_relu_pool_are_free():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 1, bias=False),  # 2*4 = 8 per position, 6*6 positions = 288
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),  # 4*5 + 5 = 25
        nn.Linear(5, 3, bias=False),  # 15
    )
    assert count_flops(model, (2, 2, 6, 6)) == pytest.approx((288 + 25 + 15) / 1e6, rel=1e-12)


def test_training_mode_is_restored_and_no_hooks_are_left():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.train()
    count_flops(model, (1, 3, 8, 8))
    assert model.training and model[1].training
    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    model.eval()
    count_flops(model, (1, 3, 8, 8))
    assert not model.training


def test_bad_input_size_is_a_value_error():
    with pytest.raises(ValueError, match="input_size"):
        count_flops(nn.Linear(2, 2), (0, 2))


# ------------------------------------------------------------------------------------------------
# NAS-Bench-201 cells against the benchmark's published figures
# ------------------------------------------------------------------------------------------------
# Published per-cell figures (the benchmark's own `get_cost_info`, FLOPs in M, per image):
#  * NATS-Bench issue #24 (github.com/D-X-Y/NATS-Bench/issues/24): architecture index 0
#    |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|
#    has FLOPs 15.64737 (cifar10-valid, 32x32, 10 classes), 15.65322 (cifar100) and 3.91948
#    (ImageNet16-120, 16x16, 120 classes).
#  * NATS-Bench issue #36 (github.com/D-X-Y/NATS-Bench/issues/36): the cell below has, on CIFAR-10
#    (hp="12", the correct entry; the issue is about a wrong hp="200" entry), flops 113.95137 and
#    params 0.802426.
INDEX0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ISSUE36 = "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize(
    "classes, side, published",
    [(10, 32, 15.64737), (100, 32, 15.65322), (120, 16, 3.91948)],
)
def test_index0_matches_published_flops(classes, side, published):
    net = build_network(INDEX0, num_classes=classes)
    assert count_flops(net, (1, 3, side, side)) == pytest.approx(published, abs=5e-6)


def test_issue36_cell_matches_published_flops_and_params():
    net = build_network(ISSUE36)
    assert count_flops(net, (1, 3, 32, 32)) == pytest.approx(113.95137, abs=5e-6)
    assert count_parameters(net) == 802426


def _cifar10_flops_formula(n1: int, n3: int, C: int = 16, N: int = 5) -> float:
    """Independent per-image FLOPs of the CIFAR-10 network with n1 1x1 and n3 3x3 convs per cell."""
    total = 3 * C * 9 * 32 * 32  # stem
    for c, side in ((C, 32), (2 * C, 16), (4 * C, 8)):
        total += N * (n1 * c * c + n3 * 9 * c * c) * side * side
    for c_in, c_out, side in ((C, 2 * C, 16), (2 * C, 4 * C, 8)):  # residual blocks, output side
        total += (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * side * side
    total += 4 * C * 10 + 10  # classifier
    return total / 1e6


def test_flops_range_over_the_space():
    # The space's extremes are the conv-free cells and the all-3x3 cell. The benchmark's CIFAR-10 FLOPs
    # range is quoted as 7.8-220.1 M (NAS-Bench-201); the formula above gives the exact ends.
    lo = count_flops(build_network("|none~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"))
    hi = count_flops(build_network(["nor_conv_3x3"] * 6))
    assert lo == pytest.approx(_cifar10_flops_formula(0, 0), rel=1e-12)
    assert hi == pytest.approx(_cifar10_flops_formula(0, 6), rel=1e-12)
    assert round(lo, 1) == 7.8 and round(hi, 1) == 220.1


def test_mixed_cell_matches_formula():
    net = build_network("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    assert count_flops(net) == pytest.approx(_cifar10_flops_formula(2, 2), rel=1e-12)


def test_masked_supernet_is_charged_for_alive_ops_only():
    import numpy as np

    from tenas.spaces.nb201 import OP_NAMES

    arch = ["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "avg_pool_3x3", "nor_conv_3x3"]
    mask = np.zeros((6, 5), dtype=bool)
    for e, op in enumerate(arch):
        mask[e, OP_NAMES.index(op)] = True
    one_each = count_flops(supernet(mask), (1, 3, 32, 32))
    assert one_each == pytest.approx(count_flops(build_network(arch, C=3, N=1), (1, 3, 32, 32)), rel=1e-12)
    # every op alive: each of the 6 edges per cell runs a 1x1 and a 3x3 conv (C=3, N=1: cells at 3, 6, 12
    # channels on 32, 16, 8 pixels) on top of the one-op-per-edge network's two 3x3 and one 1x1.
    full = count_flops(supernet(), (1, 3, 32, 32))
    extra = sum((6 - 1) * 1 * c * c * s * s + (6 - 2) * 9 * c * c * s * s for c, s in ((3, 32), (6, 16), (12, 8)))
    assert full == pytest.approx(one_each + extra / 1e6, rel=1e-12)
