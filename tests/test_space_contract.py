"""The search-space contract (tenas.spaces.base), checked over every registered space and a user's own space
(examples/tiny_resnet.py, loaded as file.py:Class the way `tenas search --space` loads it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tenas.spaces import SpaceError, check_space, get_space, list_spaces, space_spec

ROOT = Path(__file__).resolve().parents[1]
USER = f"{ROOT / 'examples' / 'tiny_resnet.py'}:TinyResNet"
SPACES = list_spaces() + [USER]


def _random_arch(space, rng: np.random.Generator) -> str:
    """A random architecture: one alive op per choice point (DARTS: a published cell and a neighbour)."""
    if space.edge_groups():
        return rng.choice(space.neighbours(space.canonical("DARTS_V2")))
    alive = space.initial_alive()
    mask = np.zeros_like(alive)
    for t in range(alive.shape[0]):
        for e in range(alive.shape[1]):
            mask[t, e, rng.choice(np.flatnonzero(alive[t, e]))] = True
    return space.genotype(mask)


@pytest.fixture(params=SPACES, ids=lambda s: s.rpartition("/")[2])
def space(request):
    return get_space(request.param)


def test_registered():
    assert {"nb201", "darts", "macro"} <= set(list_spaces())


def test_contract(space):
    check_space(space)
    alive = space.initial_alive()
    assert alive.shape == (len(space.cell_types), space.num_edges, len(space.op_names)) and alive.dtype == bool
    assert space.defaults.datasets and space.defaults.batch_for(space.defaults.datasets[0]) >= 1


def test_spec_rebuilds_the_same_space(space):
    again = get_space(space_spec(space), **space.options())
    assert type(again) is type(space) and again.options() == space.options()


def test_strings_and_masks_round_trip(space):
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = _random_arch(space, rng)
        canon = space.canonical(arch)
        assert space.canonical(canon) == canon
        mask = space.to_mask(canon)
        assert (space.to_mask(space.genotype(mask)) == mask).all()
        near = space.neighbours(canon)
        assert near and canon not in near and len(set(near)) == len(near)
        assert all(space.canonical(n) == n for n in near)
    with pytest.raises(ValueError):
        space.canonical("certainly not an architecture")


def test_networks_run_on_their_inputs(space):
    alive = space.initial_alive()
    torch.manual_seed(0)
    ntk = space.ntk_network(alive, 10)
    region = space.region_network(alive)
    assert ntk(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    region(torch.randn(4, 1, 3, 3))  # TE-NAS' 1-channel 3x3 crops
    arch = _random_arch(space, np.random.default_rng(1))
    ntk.set_alive(space.to_mask(arch))  # a mask with one op per choice point is a valid supernet state
    assert ntk(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert space.build_network(arch, 10)(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cost_counts_the_final_network(space):
    """Where a space has a cost function: its parameters are those of its own final network, counted (a
    training-only auxiliary head, DARTS', is not part of the network a user deploys, nor of DARTS' count)."""
    arch = _random_arch(space, np.random.default_rng(2))
    cost = space.cost(arch, 10)
    if cost is None:
        pytest.skip(f"{space.name} has no cost function")
    net = space.build_network(arch, 10)
    assert cost.params == sum(p.numel() for n, p in net.named_parameters() if not n.startswith("auxiliary_head."))
    assert cost.flops > 0


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:Space", "does not import"),
    ("tenas.spaces.base:NoSuchClass", "has no class"),
    ("tenas.spaces.base:Cost", "lacks"),
    ("nope", "unknown search space"),
    ("missing/file.py:Space", "not found"),
])
def test_bad_space_specs_are_named(spec, message):
    with pytest.raises(SpaceError, match=message):
        get_space(spec)


def test_a_class_missing_part_of_the_contract_is_named_once(tmp_path):
    path = tmp_path / "half.py"
    path.write_text("class Half:\n    name = 'half'\n    op_names = ('a',)\n")
    with pytest.raises(SpaceError) as info:
        get_space(f"{path}:Half")
    text = str(info.value)
    assert "Half" in text and "initial_alive" in text and "neighbours" in text and "op_names," not in text


def test_nb201_cost_is_the_benchmark_network(shared_dir):
    """NB201's additive cost equals the counts of the benchmark's built network (tenas.bench.nb201.costs)."""
    from tenas.bench.nb201 import costs

    space = get_space("nb201")
    rng = np.random.default_rng(3)
    for _ in range(6):
        arch = _random_arch(space, rng)
        c, want = space.cost(arch, 10), costs(arch)
        assert c.params == round(want["params_cifar10"] * 1e6)
        assert c.flops == pytest.approx(want["flops_cifar10"] * 1e6, abs=1)
        assert space.cost(arch, 100).params == round(want["params_cifar100"] * 1e6)
