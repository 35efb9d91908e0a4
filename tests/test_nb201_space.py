"""The NAS-Bench-201 space: cell strings, benchmark indices, parameter counts, supernets."""

from __future__ import annotations

import csv
import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from tenas.spaces.nb201 import (
    EXPECTED_FORM,
    OP_NAMES,
    TinyNetwork,
    arch_to_index,
    build_network,
    count_parameters,
    format_arch,
    index_to_arch,
    parse_arch,
    supernet,
    thin_supernet,
    to_cell,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny networks: one intra-op thread is much faster on a shared, busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bench_rows(shared_dir):
    with open(shared_dir / "data" / "nb201" / "nb201_accuracy.csv", newline="") as f:
        return [(int(r["index"]), r["arch"]) for r in csv.DictReader(f)]


# ------------------------------------------------------------------------------------------------
# strings and indices
# ------------------------------------------------------------------------------------------------
def test_parse_format_round_trip_for_every_benchmark_cell(bench_rows):
    assert len(bench_rows) == 15625
    cells = set()
    for _, arch in bench_rows:
        ops = parse_arch(arch)
        assert len(ops) == 6 and format_arch(ops) == arch
        cells.add(ops)
    # the benchmark holds each of the 5^6 cells exactly once
    assert cells == set(itertools.product(OP_NAMES, repeat=6))


def test_index_and_string_follow_the_benchmark_order(bench_rows):
    assert [index for index, _ in bench_rows] == list(range(15625))
    for index, arch in bench_rows:
        assert arch_to_index(arch) == index
        assert index_to_arch(index) == arch
    index, arch = bench_rows[12345]
    assert to_cell(index) == to_cell(str(index)) == parse_arch(arch) == to_cell(list(parse_arch(arch)))


def test_parse_reads_node_inputs_in_string_order():
    ops = parse_arch("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    # edges (1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)
    assert ops == ("nor_conv_1x1", "nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_3x3")


GOOD = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("", "1 node groups"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "2 node groups"),
        (GOOD + "+|none~0|", "4 node groups"),
        (GOOD.replace("|+|nor_conv_3x3~0|nor_conv_3x3~1|", "|+|nor_conv_3x3~0|"), "node 2 of"),
        (GOOD.replace("nor_conv_3x3~2|", "nor_conv_3x3~2|none~3|"), "has 4 inputs, expected 3"),
        (GOOD.replace("skip_connect~0", "skip~0"), "unknown op 'skip'"),
        (GOOD.replace("skip_connect~0", "conv_5x5~0"), "unknown op 'conv_5x5'"),
        (GOOD.replace("nor_conv_3x3~2", "nor_conv_3x3~1"), "should read from node 2"),
        (GOOD.replace("|+|nor_conv_3x3~0|nor", "|+|nor_conv_3x3~1|nor"), "should read from node 0"),
        (GOOD.replace("nor_conv_3x3~1|+", "nor_conv_3x3~1+"), "must start and end with '|'"),
        (GOOD.replace("|", ""), "must start and end with '|'"),
        (GOOD.replace("~0|+", "0|+", 1), "not of the form op~j"),
        (GOOD.upper(), "not of the form op~j"),
        (None, "must be a string, got NoneType"),
        (15, "must be a string, got int"),
        (list(parse_arch(GOOD)), "must be a string, got list"),
    ],
)
def test_malformed_cells_say_what_is_wrong_and_show_the_expected_form(bad, problem):
    with pytest.raises(ValueError) as info:
        parse_arch(bad)
    message = str(info.value)
    assert problem in message
    assert EXPECTED_FORM in message


@pytest.mark.parametrize("bad", [-1, 15625, True, 3.0, None, ("none",) * 5, ("none",) * 5 + ("conv",)])
def test_bad_indices_and_op_lists_are_value_errors(bad):
    from tenas.bench.nb201 import lookup

    with pytest.raises(ValueError):
        lookup(bad)


# ------------------------------------------------------------------------------------------------
# parameter counts: an independent formula for the whole macro network
# ------------------------------------------------------------------------------------------------
def expected_params(n1: int, n3: int, num_classes: int, C: int = 16, N: int = 5) -> int:
    """Parameters of the NB201 network whose cell has n1 nor_conv_1x1 and n3 nor_conv_3x3 edges.

    Per op: ReLU-Conv(no bias)-BN is c*c*k*k weights + 2c BN affine; none/skip/avg_pool have none.
    Stem: 3x3 conv 3->C + BN. Residual block c->2c: two ReLU-Conv3x3-BN (c->2c, 2c->2c) and an
    avg-pool + 1x1 conv (c->2c, no bias, no BN) shortcut. Then BN(4C), and Linear(4C, classes) + bias.
    """
    conv_bn = lambda c_in, c_out, k: c_in * c_out * k * k + 2 * c_out  # noqa: E731
    total = conv_bn(3, C, 3)
    for c in (C, 2 * C, 4 * C):
        total += N * (n1 * conv_bn(c, c, 1) + n3 * conv_bn(c, c, 3))
    for c in (C, 2 * C):
        total += conv_bn(c, 2 * c, 3) + conv_bn(2 * c, 2 * c, 3) + c * 2 * c
    total += 2 * 4 * C
    total += 4 * C * num_classes + num_classes
    return total


def test_published_parameter_counts():
    # NAS-Bench-201 / NATS-Bench README example: this cell has 0.615386 M parameters with 10 classes.
    example = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|"
    assert expected_params(2, 2, 10) == 615386
    assert count_parameters(build_network(example, num_classes=10)) == 615386
    # NATS-Bench issue #36 (get_cost_info, CIFAR-10): 0.802426 M
    assert expected_params(0, 3, 10) == 802426


def _conv_counts(cell) -> tuple[int, int]:
    c = Counter(cell)
    return c["nor_conv_1x1"], c["nor_conv_3x3"]


def test_parameter_count_for_every_conv_multiset_and_class_count(bench_rows):
    rng = np.random.default_rng(0)
    free_ops = ("none", "skip_connect", "avg_pool_3x3")
    multisets = [(n1, n3) for n1 in range(7) for n3 in range(7 - n1)]
    assert len(multisets) == 28
    built = {}
    for n1, n3 in multisets:
        # a random placement of the convs, the other edges random parameter-free ops
        cell = ["nor_conv_1x1"] * n1 + ["nor_conv_3x3"] * n3 + list(rng.choice(free_ops, 6 - n1 - n3))
        cell = [str(op) for op in rng.permutation(cell)]
        for classes in (10, 100, 120):
            got = count_parameters(build_network(cell, num_classes=classes))
            assert got == expected_params(n1, n3, classes), (cell, classes)
        built[(n1, n3)] = cell
    # a differently placed cell, with other parameter-free ops, has the same count (10 classes;
    # every third multiset, to keep the test short)
    for (n1, n3), cell in list(built.items())[::3]:
        other = [str(op) for op in rng.permutation(cell)]
        other = [str(rng.choice(free_ops)) if op in free_ops else op for op in other]
        assert count_parameters(build_network(other)) == expected_params(n1, n3, 10)
    # every benchmark cell falls into one of the checked multisets
    seen = Counter(_conv_counts(parse_arch(arch)) for _, arch in bench_rows)
    assert set(seen) == set(multisets) and sum(seen.values()) == 15625
    # parameter range of the space (10 classes): the conv-free cells and the all-3x3 cell
    assert expected_params(0, 0, 10) == 73306 and expected_params(0, 6, 10) == 1531546


# ------------------------------------------------------------------------------------------------
# supernets
# ------------------------------------------------------------------------------------------------
def _mask_of(ops_per_edge) -> np.ndarray:
    mask = np.zeros((6, len(OP_NAMES)), dtype=bool)
    for e, ops in enumerate(ops_per_edge):
        for op in ops:
            mask[e, OP_NAMES.index(op)] = True
    return mask


def _randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and BN statistics (so that eval mode is not the identity BN)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(net.parameters()) + [b for b in net.buffers() if b.is_floating_point()]:
            t.copy_(torch.rand(t.shape, generator=g, dtype=t.dtype) * 0.5 + 0.5 if t.dim() <= 1 else
                    torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.3)
    return net


def _load_into(big: torch.nn.Module, small: torch.nn.Module) -> None:
    result = big.load_state_dict(small.state_dict(), strict=False)
    assert result.unexpected_keys == []  # every weight of the small network has its place in the big one
    missing_from_small = set(result.missing_keys) & set(small.state_dict())
    assert missing_from_small == set()


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor) -> None:
    for train in (True, False):
        a.train(train)
        b.train(train)
        with torch.no_grad():
            ya, yb = a(x), b(x)
        assert ya.shape == yb.shape
        torch.testing.assert_close(ya, yb, rtol=0, atol=1e-12)


ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|",
    "|none~0|+|avg_pool_3x3~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|",
]


@pytest.mark.parametrize("arch", ARCHS)
def test_supernet_with_one_op_per_edge_is_the_evaluation_network(arch):
    cell = parse_arch(arch)
    net = _randomise(build_network(arch, C=3, N=1).double(), seed=1)
    sup = supernet(_mask_of([[op] for op in cell]), C=3, N=1).double()
    keys = set(sup.state_dict())
    assert set(net.state_dict()) <= keys and len(keys) > len(net.state_dict())
    _load_into(sup, net)
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    _same_outputs(sup, net, x)


def test_supernet_alive_mask_equals_network_built_with_only_those_ops():
    rng = np.random.default_rng(3)
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    for trial in range(4):
        mask = rng.random((6, len(OP_NAMES))) < 0.5
        mask[np.arange(6), rng.integers(0, len(OP_NAMES), 6)] = True  # at least one op per edge
        if trial == 0:
            mask[:] = True  # everything alive, none included
        ops = [[op for k, op in enumerate(OP_NAMES) if mask[e, k]] for e in range(6)]
        small = _randomise(TinyNetwork(ops, C=3, N=1).double(), seed=10 + trial)
        sup = supernet(mask, C=3, N=1).double()
        _load_into(sup, small)
        _same_outputs(sup, small, x)


def _hand_forward(net: TinyNetwork, x: torch.Tensor, alive) -> torch.Tensor:
    """The thin supernet computed from its op modules: edge = mean of alive ops (none = zeros)."""
    cell = net.cells[0]
    nodes = [x]
    k = 0
    for i in range(1, 4):
        total = torch.zeros_like(x)
        for j in range(i):
            ops = alive[k]
            outs = [torch.zeros_like(x) if op == "none" else cell.edges[k].ops[op](nodes[j]) for op in ops]
            total = total + sum(outs) / len(ops)
            k += 1
        nodes.append(total)
    out = net.lastact(nodes[3]).mean(dim=(2, 3))
    return net.classifier(out)


def test_thin_supernet_takes_one_channel_3x3_inputs_and_averages_alive_ops():
    x = torch.randn(5, 1, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    default_alive = [[op for op in OP_NAMES if op != "none"]] * 6
    with_none = [["none", "nor_conv_3x3"], ["skip_connect"], ["avg_pool_3x3", "nor_conv_1x1", "none"],
                 ["nor_conv_3x3", "nor_conv_1x1"], ["none"], OP_NAMES]
    for alive in (default_alive, with_none):
        net = thin_supernet(None if alive is default_alive else _mask_of(alive)).double()
        _randomise(net, seed=6)
        assert net.stem is None and len(net.cells) == 1
        for train in (True, False):
            net.train(train)
            with torch.no_grad():
                y = net(x)
                expected = _hand_forward(net, x, alive)
            assert y.shape == (5, 10)
            torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
