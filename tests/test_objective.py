"""--objective: parsing, the rank sum over any proxies, and the search path measured on common weights."""

from __future__ import annotations

import numpy as np
import pytest

from tenas.indicators.init import init_weights_
from tenas.indicators.ntk import ntk_condition_number
from tenas.parallel.local import LocalPool
from tenas.search.objective import parse_objective
from tenas.search.inputs import InputSource
from tenas.search.prune import SearchConfig, evaluate_stages, run_search, search_stages
from tenas.search.rank import rank_objective
from tenas.spaces import get_space


def _config(**kw) -> SearchConfig:
    return SearchConfig(**{"repeats": 1, "batch_size": 8, "region_samples": 300, "region_batch": 300, "seed": 4, **kw})


def test_parse_objective():
    assert parse_objective("tenas").terms == ("ntk", "regions")
    o = parse_objective(" ntk+regions+synflow ")
    assert o.terms == ("ntk", "regions", "synflow") and o.extra == ("synflow",)
    assert o.higher_is_better == {"ntk": False, "regions": True, "synflow": True}
    for bad, msg in [("", "preset"), ("ntk+", "empty term"), ("ntk+bogus", "unknown proxy 'bogus'"),
                     ("regions+regions", "twice")]:
        with pytest.raises(ValueError, match=msg):
            parse_objective(bad)


def test_rank_sum_over_three_terms_by_hand():
    # term a: lower is better (large change ranks first); b, c: higher is better (small change first)
    cands = [(0, 0, 1), (0, 0, 2), (0, 0, 3)]
    deltas = {"a": [0.5, 0.1, 0.3], "b": [0.2, 0.0, 0.1], "c": [-0.1, 0.4, 0.0]}
    ranked = rank_objective(cands, deltas, {"a": False, "b": True, "c": True})
    # ranks  a: [0, 2, 1]  b: [2, 0, 1]  c: [0, 2, 1]  -> sums [2, 4, 3]
    assert [(r.op, r.rank_sum) for r in ranked] == [(1, 2), (3, 3), (2, 4)]


def test_objective_ntk_plus_regions_is_tenas(embedded):
    results = []
    for objective in ("tenas", "ntk+regions"):
        with LocalPool(1) as pool:
            state = run_search(get_space("nb201"), embedded, _config(objective=objective), pool)
        results.append(state)
    assert results[0].alive == results[1].alive
    assert [r["candidates"] for r in results[0].rounds] == [r["candidates"] for r in results[1].rounds]


def test_objective_with_a_registry_proxy(embedded):
    with LocalPool(1) as pool:
        state = run_search(get_space("nb201"), embedded, _config(objective="ntk+regions+params"), pool)
    cand = state.rounds[0]["candidates"]
    # params of the NTK supernet: removing a conv lowers it, removing skip/pool leaves it unchanged
    by_op = {}
    for c in cand:
        by_op.setdefault(c["op"], set()).add(c["deltas"]["params"] > 0)
        assert set(c["ranks"]) == {"ntk", "regions", "params"}
        assert c["rank_sum"] == sum(c["ranks"].values())
        assert len(c["proxies"]["params"]["without"]) == 1
    assert by_op["nor_conv_3x3"] == {True} and by_op["skip_connect"] == {False}


def test_stages_share_weights_and_inputs(embedded):
    config = _config(repeats=2)
    space = get_space("nb201")
    with LocalPool(1) as pool:
        state = run_search(space, embedded, config, pool)
        stages = evaluate_stages(space, embedded, config, pool, search_stages(state))
    assert [s["label"] for s in stages] == ["supernet", "after round 1", "after round 2", "found"]
    # each stage's kappa for repeat r is the kernel of that mask at the stage weights of repeat r, on one batch
    from tenas.search.protocols import get_protocol
    from tenas.search.inputs import derive_seed
    import functools

    source = InputSource(embedded, config)
    for r in range(2):
        ntk_init, _ = get_protocol("paper").stage_inits(config, functools.partial(derive_seed, config.seed), r)
        batch = __import__("torch").as_tensor(source.batch(10_000, r))
        for stage, (_, mask) in zip(stages, search_stages(state)):
            net = space.ntk_network(mask, 10)
            init_weights_(net, *ntk_init)
            assert stage["kappa_repeats"][r] == pytest.approx(ntk_condition_number(net, batch), rel=1e-6)
    assert np.isfinite([s["kappa"] for s in stages]).all()


# --------------------------------------------------------------------------------------------------
# the local step
# --------------------------------------------------------------------------------------------------
def test_neighbours_are_every_one_edit_cell():
    from tenas.search.local import neighbours
    from tenas.spaces.nb201 import parse_arch

    start = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|"
    got = neighbours(start)
    assert len(got) == len(set(got)) == 18 and start not in got
    for cell in got:
        diff = [a != b for a, b in zip(parse_arch(cell), parse_arch(start))]
        assert sum(diff) == 1 and "none" not in parse_arch(cell)


def test_local_step_climbs_by_its_ensemble():
    """With params alone the climb adds parameters every move: conv3x3 replaces a cheaper op on some edge."""
    from tenas.search.local import local_step
    from tenas.spaces.nb201 import parse_arch

    start = "|skip_connect~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    res = local_step(start, "cifar10", None, 0, steps=2, members=("params",))
    assert len(res.path) == 3 and res.path[0] == start and res.arch == res.path[-1]
    counts = [parse_arch(c).count("nor_conv_3x3") for c in res.path]
    assert counts == [0, 1, 2]
    # the start and its 18 neighbours; then the moved-to cell's 18, of which 3 are already scored: the start and
    # the other two ops on the edge that changed
    assert len(res.scores) == 1 + 18 + 15
    params = [res.scores[c]["params"] for c in res.path]
    assert params[0] < params[1] < params[2]


def test_tenas_plus_preset_stages():
    from tenas.search.local import Stage

    o = parse_objective("tenas+")
    assert o.terms == ("ntk", "regions")
    assert o.local == (Stage(("synflow",), 6, "fast"), Stage(("zen", "az_trainability"), 1, "published"))
    assert parse_objective("tenas").local == () and parse_objective("ntk+regions+synflow").local == ()


def test_objective_with_local_step_end_to_end(tmp_path, monkeypatch):
    from tenas.cli import main
    from tenas.report.results import read_json
    from tenas.search import objective

    from tenas.search.local import Stage

    # two stages: params climbs one move (fast protocol); then flops (published) climbs on from there
    monkeypatch.setitem(objective.PRESETS, "tenas+", (("ntk", "regions"), (Stage(("params",), 1),
                                                                           Stage(("flops",), 2, "published"))))
    out = tmp_path / "plus"
    assert main(["search", "--objective", "tenas+", "--out", str(out), "--repeats", "1", "--batch-size", "8",
                 "--region-samples", "300", "--quiet", "--workers", "1"]) == 0
    res = read_json(out / "result.json")
    ls = res["local_step"]
    first, second = ls["stages"]
    assert (first["members"], first["protocol"], second["members"], second["protocol"]) == (
        ["params"], "fast", ["flops"], "published")
    assert len(first["path"]) == 2 and second["start"] == first["arch"] and 1 <= len(second["path"]) <= 3
    assert ls["path"] == first["path"] + second["path"][1:] and ls["start"] == first["start"]
    assert res["arch"] == ls["arch"] == second["arch"] != ls["start"]
    flops = [second["scores"][c]["flops"] for c in second["path"]]
    assert flops == sorted(set(flops))  # every move of the flops climb adds FLOPs
    assert res["benchmark"]["arch"] == res["arch"]
    assert res["stages"][-1]["label"] == "after local step"
