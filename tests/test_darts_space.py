"""The DARTS space: evaluation networks, TE-NAS supernets, masks, genotypes, the SearchSpace protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tenas.spaces.base import MaskedNetwork, SearchSpace
from tenas.spaces import darts
from tenas.spaces.darts import (
    EDGES,
    MASK_SHAPE,
    OP_NAMES,
    DartsNetwork,
    DartsSearchSpace,
    alive_from_genotype,
    build_imagenet_network,
    build_network,
    count_parameters,
    full_mask,
    supernet,
    thin_supernet,
)
from tenas.spaces.genotypes import DARTS_V1, DARTS_V2, parse_genotype


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_darts_v2_parameter_count():
    # DARTS reports "3.3M" for DARTS_V2 on CIFAR-10; its train.py logs count_parameters_in_MB(model) =
    # 3.349342, which sums every parameter whose name does not contain "auxiliary": the auxiliary head
    # is excluded. Our evaluation network has exactly that many.
    net = build_network(DARTS_V2)  # 20 cells, 36 channels, auxiliary head
    assert count_parameters(net) == 3_349_342
    assert count_parameters(net, include_auxiliary=True) == 3_825_768
    assert count_parameters(build_network(DARTS_V2, auxiliary=False)) == 3_349_342
    # ImageNet mobile setting: DARTS reports 4.7M
    assert round(count_parameters(build_imagenet_network(DARTS_V2)) / 1e6, 1) == 4.7


def test_evaluation_network_shapes_and_aux():
    net = build_network(DARTS_V1, C=8, layers=5, num_classes=7)
    x = torch.randn(2, 3, 32, 32)
    net.train()
    net.drop_path_prob = 0.2
    logits, aux = net(x, with_aux=True)
    assert logits.shape == (2, 7) and aux.shape == (2, 7)
    assert net(x).shape == (2, 7)  # plain call: logits only
    net.eval()
    logits, aux = net(x, with_aux=True)
    assert aux is None
    # reductions at 1/3 and 2/3 depth, aux after the second reduction (8x8 on CIFAR)
    assert [c.reduction for c in net.cells] == [False, True, False, True, False]
    img = build_imagenet_network(DARTS_V2, C=8, layers=5, num_classes=5).eval()
    assert img(torch.randn(1, 3, 224, 224)).shape == (1, 5)


def test_official_supernet_configuration():
    space = DartsSearchSpace()
    assert isinstance(space, SearchSpace)
    alive = space.initial_alive()
    assert alive.shape == (2, 14, 8) and not alive[:, :, OP_NAMES.index("none")].any() and alive.sum() == 2 * 14 * 7
    net = space.ntk_network(alive, num_classes=10)
    assert isinstance(net, MaskedNetwork)
    # C=1, N=1, depth=2: one normal cell (C=1) then one reduction cell (C=2), stem to 1 channel, BN-ReLU head
    assert [c.reduction for c in net.cells] == [False, True]
    assert net.stem[0].out_channels == 1 and net.classifier.in_features == 8 and net.lastact is not None
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    thin = space.region_network(alive)
    assert thin.stem is None and space.region_input_channels == 1
    assert thin(torch.randn(5, 1, 3, 3)).shape == (5, 10)  # TE-NAS' 1x3x3 crops
    assert space.edge_groups() == [(0, 2), (2, 5), (5, 9), (9, 14)]
    assert space.edge_label(0, 0) == "normal 2<-0" and space.edge_label(1, 13) == "reduce 5<-4"
    assert EDGES[2:5] == ((3, 0), (3, 1), (3, 2))


def _restricted(mask, **kw):
    """A network built with only the ops of ``mask`` as candidates (what masking should be equal to)."""
    ops = [[[OP_NAMES[k] for k in np.flatnonzero(mask[t, e])] for e in range(14)] for t in range(2)]
    return DartsNetwork(ops[0], ops[1], **kw)


def _copy_into(dst, src):
    state = src.state_dict()
    dst.load_state_dict({k: state[k] for k in dst.state_dict()}, strict=True)


@pytest.mark.parametrize("thin", [False, True])
def test_masking_is_removing(thin):
    rng = np.random.default_rng(0)
    mask = rng.random(MASK_SHAPE) < 0.4
    mask[0, 3] = False  # a fully masked edge
    mask[1, 9:14] = False  # a fully masked node (all 5 inputs of reduce node 5)
    mask[0, 5] = False
    mask[0, 5, OP_NAMES.index("none")] = True  # only 'none' alive: contributes nothing
    mask[0, 6, :] = True  # every op, 'none' included in the mean
    kw = dict(C=2, layers=3, num_classes=10, stem="none" if thin else "cifar", stem_multiplier=1, depth=2,
              lastact=True, average=True)
    big = (thin_supernet if thin else supernet)(mask, C=2)
    small = _restricted(mask, **kw)
    _copy_into(small, big)
    assert count_parameters(small) < count_parameters(big)
    x = torch.randn(6, 2 if thin else 3, 8 if thin else 16, 8 if thin else 16)
    big.train(), small.train()
    out_big, out_small = big(x), small(x)
    assert torch.equal(out_big, out_small)
    out_big.square().sum().backward()
    out_small.square().sum().backward()
    grads = dict(small.named_parameters())
    for name, p in big.named_parameters():
        if name in grads:
            assert torch.equal(p.grad, grads[name].grad), name
        else:
            assert p.grad is None, f"masked parameter {name} got a gradient"
    # and the mask reads back
    assert (big.get_alive() == mask).all()


def test_edge_output_is_mean_of_alive_ops():
    edge = darts.Edge(OP_NAMES, C=3, stride=1)
    x = torch.randn(2, 3, 6, 6)
    edge.alive = ("none", "avg_pool_3x3", "skip_connect")
    expected = (edge.ops["avg_pool_3x3"](x) + x) / 3
    assert torch.allclose(edge(x), expected)
    edge.alive = ("none",)
    assert edge(x) is None


def test_selected_supernet_is_the_evaluation_cell():
    """After op pruning and edge selection, the supernet computes the genotype's network."""
    mask = alive_from_genotype(DARTS_V2)
    assert mask.sum() == 16 and (mask.sum(axis=2) <= 1).all()
    big = supernet(mask, C=4)
    g = darts.genotype(mask)
    small = DartsNetwork(darts._cell_edge_ops(g.normal), darts._cell_edge_ops(g.reduce), C=4, layers=3,
                         stem_multiplier=1, depth=2, lastact=True, average=False)
    _copy_into(small, big)
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(big(x), small(x))


def test_genotype_from_alive():
    space = DartsSearchSpace()
    mask = alive_from_genotype(DARTS_V2)
    text = space.genotype(mask)
    g = parse_genotype(text)
    # same cell, listed by input within a node
    for a, b in ((g.normal, DARTS_V2.normal), (g.reduce, DARTS_V2.reduce)):
        assert [sorted(a[i:i + 2], key=lambda p: p[1]) for i in range(0, 8, 2)] == \
               [sorted(b[i:i + 2], key=lambda p: p[1]) for i in range(0, 8, 2)]
    assert (alive_from_genotype(g) == mask).all()
    with pytest.raises(ValueError, match="must keep exactly one op"):
        space.genotype(full_mask())
    one_op = np.zeros(MASK_SHAPE, bool)
    one_op[:, :, OP_NAMES.index("sep_conv_3x3")] = True  # op pruning done, edge selection not
    with pytest.raises(ValueError, match="run edge selection first"):
        space.genotype(one_op)
    two = mask.copy()
    two[0, 0, OP_NAMES.index("skip_connect")] = True
    with pytest.raises(ValueError, match="exactly one op"):
        space.genotype(two)


def test_bad_masks_rejected():
    net = supernet()
    with pytest.raises(ValueError, match=r"shape \(2, 14, 8\)"):
        net.set_alive(np.ones((14, 8), bool))
    eval_net = build_network(DARTS_V2, C=4, layers=3, auxiliary=False)
    with pytest.raises(ValueError, match="has no candidate op"):
        eval_net.set_alive(full_mask())
    eval_net.set_alive(alive_from_genotype(DARTS_V2))  # its own ops are fine


def test_indicators_see_masking_as_removal():
    """kappa_N and R_N of a masked supernet equal those of the network built without the masked ops."""
    ntk = pytest.importorskip("tenas.indicators.ntk")
    regions = pytest.importorskip("tenas.indicators.regions")
    from tenas.indicators.init import kaiming_init_

    rng = np.random.default_rng(1)
    mask = (rng.random(MASK_SHAPE) < 0.3) & full_mask()
    space = DartsSearchSpace()
    kw = dict(C=1, layers=3, num_classes=10, stem_multiplier=1, depth=2, lastact=True, average=True)
    big = space.ntk_network(mask, num_classes=10)
    kaiming_init_(big, mode="fan_out", generator=torch.Generator().manual_seed(0))
    small = _restricted(mask, stem="cifar", **kw)
    _copy_into(small, big)
    x = torch.randn(3, 3, 32, 32)
    k_big, k_small = ntk.ntk_condition_number(big, x), ntk.ntk_condition_number(small, x)
    assert math.isfinite(k_big) and k_big == pytest.approx(k_small, rel=1e-9)

    thin = space.region_network(mask)
    kaiming_init_(thin, mode="fan_in", generator=torch.Generator().manual_seed(0))
    thin_small = _restricted(mask, stem="none", **kw)
    _copy_into(thin_small, thin)
    crops = torch.randn(200, space.region_input_channels, 3, 3)
    r_big = regions.count_linear_regions(thin, crops, batch_size=100)
    assert 1 < r_big == regions.count_linear_regions(thin_small, crops, batch_size=100)
