"""tenas.spaces.macro: NAS-Bench-Macro strings, networks, analytic costs and the packaged table.

The expectations are the benchmark's own CSV in ../shared (read here, never by the package).
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
from collections import defaultdict
from importlib import resources

import numpy as np
import pytest
import torch
from torch import nn

from tenas.cli import main
from tenas.spaces.macro import (
    NUM_LAYERS,
    OP_NAMES,
    STAGES,
    MacroLayer,
    MacroNetwork,
    all_archs,
    build_network,
    canonical,
    flops,
    format_arch,
    from_mask,
    is_canonical,
    layer_channels,
    layer_costs,
    lookup,
    neighbours,
    one_layer_edits,
    params,
    parse_arch,
    supernet,
    table,
    to_mask,
)

ACC_COLUMNS = ("test_acc_1", "test_acc_2", "test_acc_3", "mean_acc", "std")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def csv_path(shared_dir):
    return shared_dir / "data" / "nb_macro" / "nb_macro_cifar10.csv"


@pytest.fixture(scope="module")
def rows(csv_path):
    """The benchmark's CSV: arch -> {column: float / int}, in file order."""
    with open(csv_path, newline="") as f:
        out = {}
        for r in csv.DictReader(f):
            out[r["arch"]] = {
                **{k: float(r[k]) for k in ACC_COLUMNS},
                "params": int(r["params"]),
                "flops": int(r["flops"]),
            }
    return out


def _sample(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random strings plus the three uniform ones."""
    rng = np.random.default_rng(seed)
    picked = [all_archs()[i] for i in rng.choice(len(all_archs()), size=n, replace=False)]
    return ["00000000", "11111111", "22222222", *picked]


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------
def test_table_has_every_architecture_in_product_order(rows):
    assert len(rows) == 6561 == len(all_archs())
    assert list(rows) == list(all_archs()) == ["".join(p) for p in itertools.product("012", repeat=8)]


def test_packaged_table_is_the_shared_csv(csv_path, rows):
    package = resources.files("tenas.spaces.macro")
    assert gzip.decompress(package.joinpath("nb_macro_cifar10.csv.gz").read_bytes()) == csv_path.read_bytes()
    assert package.joinpath("LICENSE").read_text().startswith("Copyright 2021 Xiu Su")
    assert "Apache License" in package.joinpath("LICENSE").read_text()
    assert "Prioritized Architecture Sampling" in package.joinpath("DATA.md").read_text()
    t = table()
    assert list(t.arch) == list(rows)
    np.testing.assert_array_equal(t.mean_acc, [r["mean_acc"] for r in rows.values()])
    np.testing.assert_array_equal(t.params, [r["params"] for r in rows.values()])
    np.testing.assert_array_equal(t.flops, [r["flops"] for r in rows.values()])
    assert not t.mean_acc.flags.writeable and t.params.dtype == np.int64


def test_lookup_matches_the_csv(rows):
    for arch in _sample(50, seed=1) + ["22212220", "22212202"]:
        rec, row = lookup(arch), rows[arch]
        assert rec.arch == arch and rec.canonical == canonical(arch)
        assert rec.test_acc == (row["test_acc_1"], row["test_acc_2"], row["test_acc_3"])
        assert (rec.mean_acc, rec.std) == (row["mean_acc"], row["std"])
        assert (rec.params, rec.flops) == (row["params"], row["flops"])
    # other accepted forms of the same architecture
    assert lookup([2, 2, 2, 1, 2, 2, 2, 0]) == lookup(" 22212220 ") == lookup(np.array([2, 2, 2, 1, 2, 2, 2, 0]))


def test_record_is_frozen_and_json_ready():
    rec = lookup("22212220")
    with pytest.raises(AttributeError):
        rec.mean_acc = 0.0  # type: ignore[misc]
    d = json.loads(json.dumps(rec.to_dict()))
    assert d == {**rec.to_dict(), "test_acc": list(rec.test_acc)}
    assert set(d) == {"arch", "canonical", "mean_acc", "test_acc", "std", "params", "flops"}


def test_readme_figures(rows):
    best = max(rows, key=lambda a: rows[a]["mean_acc"])
    assert canonical(best) == "22212220" and round(rows[best]["mean_acc"], 2) == 93.13
    assert round(float(np.median([r["mean_acc"] for r in rows.values()])), 2) == 90.99
    assert round(rows["22222222"]["mean_acc"], 2) == 92.95


# ------------------------------------------------------------------------------------------------
# equivalent strings
# ------------------------------------------------------------------------------------------------
def test_canonical_rule_examples():
    assert canonical("22212202") == canonical("22212220") == "22212220"
    assert canonical("10" + "002" + "012") == "10" + "020" + "012"  # a stage's first layer never moves
    assert canonical("01" + "000" + "201") == "01" + "000" + "210"
    assert canonical("00" + "102" + "021") == "00" + "120" + "021"  # non-identities keep their order
    assert is_canonical("22212220") and not is_canonical("22212202")
    assert all(canonical(canonical(a)) == canonical(a) for a in all_archs())


def test_equivalent_strings_have_identical_rows(rows):
    groups: dict[str, list[str]] = defaultdict(list)
    for arch in rows:
        groups[canonical(arch)].append(arch)
    # per stage: 3 first ops x the op sequences of the other layers with identities at the end
    per_stage = []
    for stage in STAGES:
        tails = {tuple(sorted(t, key=lambda d: d == 0)) for t in itertools.product(range(3), repeat=len(stage) - 1)}
        per_stage.append(3 * len(tails))
    assert per_stage == [9, 21, 21]
    assert len(groups) == 9 * 21 * 21 == 3969
    assert all(c in group for c, group in groups.items())  # the canonical form is a member of its class
    for group in groups.values():
        assert len({tuple(rows[a].values()) for a in group}) == 1, group
    # the rule is not coarser than the table: different classes have different full rows
    assert len({tuple(rows[c].values()) for c in groups}) == len(groups)
    # (mean_acc, params, flops) never splits a class; 10 pairs of classes share it by coincidence
    # (same cost, same mean of three runs, different runs)
    triples = {(r["mean_acc"], r["params"], r["flops"]) for r in rows.values()}
    assert len(triples) == 3959 <= len(groups)


# ------------------------------------------------------------------------------------------------
# strings
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad", ["1234", "012012013", 12345678, "0120120a", "", "abcdefgh", None, [0] * 7, [0, 1, 2, 3, 0, 0, 0, 0],
            [0.0] * 8, ["identity"] * 7 + ["conv"], "0 1 2 0 1 2 0 1"]
)
def test_malformed_strings_raise_one_clear_error(bad):
    with pytest.raises(ValueError) as info:
        parse_arch(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert "expected 8 digits 0-2, one per layer: 0 identity, 1 ir_k3_e3, 2 ir_k5_e6" in message
    with pytest.raises(ValueError, match="expected 8 digits 0-2"):
        lookup(bad)
    with pytest.raises(ValueError, match="expected 8 digits 0-2"):
        params(bad)


def test_accepted_forms():
    digits = (2, 2, 2, 1, 2, 2, 2, 0)
    assert parse_arch("22212220") == digits
    assert parse_arch(list(digits)) == parse_arch(np.array(digits)) == digits
    assert parse_arch([OP_NAMES[d] for d in digits]) == parse_arch(list("22212220")) == digits
    assert format_arch(["ir_k5_e6", 2, "2", 1, 2, 2, 2, "identity"]) == "22212220"


def test_masks_round_trip_and_reject_non_architectures():
    for arch in all_archs()[::7]:
        mask = to_mask(arch)
        assert mask.shape == (NUM_LAYERS, 3) and mask.dtype == bool and mask.sum() == NUM_LAYERS
        assert from_mask(mask) == arch == from_mask(mask[None])
    mask = to_mask("01201201")
    two = mask.copy()
    two[3] = True
    none = mask.copy()
    none[5] = False
    for bad in (two, none, mask[:7], np.ones((8, 2), bool)):
        with pytest.raises(ValueError):
            from_mask(bad)


def test_neighbours():
    rng = np.random.default_rng(3)
    for arch in ["22212220", "22212202", "00000000", *rng.choice(all_archs(), size=40)]:
        edits = one_layer_edits(arch)
        assert len(edits) == len(set(edits)) == 16
        assert all(sum(a != b for a, b in zip(e, arch)) == 1 for e in edits)
        near = neighbours(arch)
        assert len(near) == len(set(near)) <= 16
        assert all(is_canonical(n) for n in near) and canonical(arch) not in near
        assert set(near) == {canonical(e) for e in edits} - {canonical(arch)}


def test_neighbours_merge_equivalent_edits():
    # in '00000000', editing layer 3 or layer 4 to op 1 gives equivalent strings (identity moved)
    assert canonical("00010000") == canonical("00001000") == "00010000"
    near = neighbours("00000000")
    assert "00010000" in near and "00001000" not in near
    # stages 2 and 3: an op on either non-first layer is the same network, so 2 classes each, not 4
    assert len(near) == 16 - 2 - 2
    # in '22222222', an identity on either non-first layer of stages 2 and 3 is the same network
    assert canonical("22202222") == canonical("22220222") == "22220222"
    assert len(neighbours("22222222")) == 16 - 1 - 1
    assert len(neighbours("11111111")) == 14
    assert len(neighbours("12121212")) == 16  # stage 2 is 1,2,1: identity on layer 3 or 4 differs


# ------------------------------------------------------------------------------------------------
# analytic costs
# ------------------------------------------------------------------------------------------------
def test_analytic_costs_match_the_table_for_every_architecture(rows):
    for arch, row in rows.items():
        assert params(arch) == row["params"], arch
        assert flops(arch) == row["flops"], arch


def test_layer_costs_add_up(rows):
    base_params, base_flops, layer_params, layer_flops = layer_costs()
    assert layer_params.shape == layer_flops.shape == (NUM_LAYERS, 3)
    digits = np.array([parse_arch(a) for a in rows])
    layers = np.arange(NUM_LAYERS)
    expected_params, expected_flops = [r["params"] for r in rows.values()], [r["flops"] for r in rows.values()]
    np.testing.assert_array_equal(base_params + layer_params[layers, digits].sum(1), expected_params)
    np.testing.assert_array_equal(base_flops + layer_flops[layers, digits].sum(1), expected_flops)
    # identity is free where the shapes match, and the cheapest op everywhere
    assert (layer_params[[1, 3, 4, 6, 7], 0] == 0).all() and (layer_params.argmin(1) == 0).all()


# ------------------------------------------------------------------------------------------------
# networks
# ------------------------------------------------------------------------------------------------
def _hook_flops(net: nn.Module, size: int = 32) -> int:
    """Benchmark FLOPs of one image, counted by forward hooks on every Conv2d and Linear that runs."""
    total = [0]

    def conv(m: nn.Conv2d, _inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += m.in_channels * m.out_channels * out.shape[2] * out.shape[3] * k // m.groups

    def linear(m: nn.Linear, _inp, _out):
        total[0] += m.in_features * m.out_features

    handles = [m.register_forward_hook(conv) for m in net.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear) for m in net.modules() if isinstance(m, nn.Linear)]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total[0]


@pytest.fixture(scope="module")
def block_params():
    """(stem + head params, (8, 3) params of each layer's op modules), counted on a built supernet."""
    net = supernet()
    blocks = np.array([[_n_params(layer.ops[name]) for name in OP_NAMES] for layer in net.layers])
    base = _n_params(net) - blocks.sum()
    assert base == _n_params(net.stem) + _n_params(net.head) + _n_params(net.classifier)
    return base, blocks


def test_built_networks_have_the_table_params_for_every_architecture(rows, block_params):
    base, blocks = block_params
    digits = np.array([parse_arch(a) for a in rows])
    counted = base + blocks[np.arange(NUM_LAYERS), digits].sum(1)
    np.testing.assert_array_equal(counted, [r["params"] for r in rows.values()])
    # whole evaluation networks: their parameter count is the sum of their blocks (and the table's)
    for arch in _sample(30, seed=2):
        net = build_network(arch)
        d = parse_arch(arch)
        assert [tuple(layer.ops) for layer in net.layers] == [(OP_NAMES[i],) for i in d]
        assert [_n_params(layer) for layer in net.layers] == [int(blocks[i, j]) for i, j in enumerate(d)]
        assert _n_params(net) == base + sum(int(blocks[i, j]) for i, j in enumerate(d)) == rows[arch]["params"]


def test_hooked_flops_of_built_networks_match_the_table(rows):
    for arch in _sample(50, seed=4):
        assert _hook_flops(build_network(arch)) == rows[arch]["flops"], arch


def test_costs_follow_classes_image_size_and_width():
    for arch in ("01201201", "22212220", "10000000"):
        for classes, size, width in ((100, 32, 1.0), (10, 64, 1.0), (120, 16, 1.0), (10, 32, 0.5), (10, 24, 0.25)):
            net = MacroNetwork([[OP_NAMES[d]] for d in parse_arch(arch)], width=width, num_classes=classes)
            assert _n_params(net) == params(arch, classes, width=width)
            assert _hook_flops(net, size) == flops(arch, classes, size, width=width)


def test_channel_plan_and_width():
    assert layer_channels() == (
        (32, 64, 2), (64, 64, 1),
        (64, 128, 2), (128, 128, 1), (128, 128, 1),
        (128, 256, 2), (256, 256, 1), (256, 256, 1),
    )
    net = build_network("22222222", width=1 / 32)
    assert net.stem[0].out_channels == 1 and net.head[0].out_channels == 40
    assert [layer.c_out for layer in net.layers] == [2, 2, 4, 4, 4, 8, 8, 8]
    body = net.layers[3].ops["ir_k5_e6"].body
    assert body[0].out_channels == 24 and body[3].kernel_size == (5, 5) and body[3].groups == 24
    # the benchmark's blocks at width 1: hidden = in x t
    ref = build_network("11111111")
    hidden = [layer.ops["ir_k3_e3"].body[0].out_channels for layer in ref.layers]
    assert hidden == [96, 192, 192, 384, 384, 384, 768, 768]


def _randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BatchNorm statistics (so that eval-mode outputs are not trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if not t.is_floating_point():
                continue
            positive = "running_var" in name or (name.endswith("weight") and t.dim() == 1)  # BN scale
            noise = torch.rand(t.shape, generator=g) + 0.5 if positive else torch.randn(t.shape, generator=g) * 0.1
            t.copy_(noise)
    return net


@pytest.mark.parametrize("arch", ["22212220", "00000000", "10201102"])
def test_supernet_with_one_op_alive_is_the_evaluation_network(arch):
    sn = _randomize(supernet(to_mask(arch)))
    assert (sn.get_alive() == to_mask(arch)).all()
    net = build_network(arch)
    own = net.state_dict()
    matching = {k: v for k, v in sn.state_dict().items() if k in own}
    assert set(matching) == set(own)
    net.load_state_dict(matching)
    x = torch.randn(4, 3, 32, 32)
    for train in (False, True):
        sn.train(train), net.train(train)
        with torch.no_grad():
            torch.testing.assert_close(sn(x), net(x), rtol=0, atol=0)


def test_supernet_layer_is_the_mean_of_its_alive_ops():
    sn = _randomize(supernet()).eval()
    x = torch.randn(2, 128, 8, 8)
    layer: MacroLayer = sn.layers[3]  # stride 1, 128 -> 128: identity is the input itself
    assert isinstance(layer.ops["identity"], nn.Identity) and layer.alive == OP_NAMES
    with torch.no_grad():
        ir3, ir5 = layer.ops["ir_k3_e3"](x), layer.ops["ir_k5_e6"](x)
        torch.testing.assert_close(layer(x), (x + ir3 + ir5) / 3)
        mask = np.ones((8, 3), bool)
        mask[3] = [True, False, True]
        assert sn.set_alive(mask[None]) is sn and layer.alive == ("identity", "ir_k5_e6")
        torch.testing.assert_close(layer(x), (x + ir5) / 2)
        mask[3] = [False, True, False]
        sn.set_alive(mask)
        assert torch.equal(layer(x), ir3) and (sn.get_alive() == mask).all()
        first = sn.layers[0]  # stride 2: identity is a 1x1 conv + BN
        y = torch.randn(2, 32, 32, 32)
        reduce = first.ops["identity"]
        assert isinstance(reduce[0], nn.Conv2d) and reduce[0].stride == (2, 2) and reduce[0].bias is None
        torch.testing.assert_close(first(y), sum(op(y) for op in first.ops.values()) / 3)
    mask[0] = False
    with pytest.raises(ValueError):
        sn.set_alive(mask)
    with pytest.raises(ValueError):
        sn.set_alive(np.ones((8, 2), bool))


def test_tiny_inputs_without_stem():
    sn = supernet(stem=False, in_channels=1, width=1 / 32)
    assert isinstance(sn.stem, nn.Identity) and sn.layers[0].c_in == 1
    out = sn(torch.randn(5, 1, 3, 3))
    assert out.shape == (5, 10) and torch.isfinite(out).all()
    sn.set_alive(to_mask("21021102")).eval()
    assert sn(torch.randn(1, 1, 3, 3)).shape == (1, 10)
    one = MacroNetwork([[OP_NAMES[d]] for d in parse_arch("00011122")], stem=False, in_channels=1, width=1 / 32)
    assert one(torch.randn(3, 1, 3, 3)).shape == (3, 10)


def test_network_defaults():
    net = build_network("12012012", num_classes=7)
    assert net.classifier.out_features == 7 and net.classifier.bias is not None
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.affine and m.track_running_stats for m in bns)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.bias is None for m in convs)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match="expected 8 digits"):
        build_network("1201201")


# ------------------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------------------
def test_cli_bench_macro(capsys, rows):
    assert main(["bench", "macro", "22212220"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "22212220" in out
    row = rows["22212220"]
    assert f"{row['mean_acc']:.2f}" in out and f"{row['std']:.3f}" in out
    assert all(f"{row[c]:.2f}" in out for c in ("test_acc_1", "test_acc_2", "test_acc_3"))
    assert f"{row['params']:,}" in out and f"{row['flops']:,}" in out
    assert main(["bench", "macro", "22212202", "--json"]) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert d == lookup("22212202").to_dict()
    assert d["canonical"] == "22212220" and d["mean_acc"] == rows["22212202"]["mean_acc"]
    assert d["test_acc"] == [row["test_acc_1"], row["test_acc_2"], row["test_acc_3"]]


@pytest.mark.parametrize("bad", ["2221222", "222122203", "2221222x"])
def test_cli_bench_macro_bad_string(capsys, bad):
    assert main(["bench", "macro", bad]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("tenas bench: error: malformed NAS-Bench-Macro architecture")
    assert repr(bad) in err and "expected 8 digits 0-2" in err
