"""Measurement protocols: which weights and inputs each measurement sees; official kappa/R and ranking."""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import torch

from _peer import peer_import
from tenas.cli import main
from tenas.data import load_dataset
from tenas.indicators.init import default_init_, init_weights_
from tenas.parallel.local import LocalPool
from tenas.report.results import atomic_write_json, read_json
from tenas.search.objective import parse_objective
from tenas.search.protocols import get_protocol
from tenas.search.inputs import InputSource, derive_seed
from tenas.search.measure import score_masks
from tenas.search.prune import SearchConfig, _tasks, prune_candidates, run_search
from tenas.search.rank import official_rank, rank_objective, round_to_official
from tenas.spaces import get_space



def _config(**kw) -> SearchConfig:
    return SearchConfig(**{"repeats": 2, "batch_size": 8, "region_samples": 300, "region_batch": 300, **kw})


class RecordingPool(LocalPool):
    """Runs tasks in-process and keeps them."""

    def __init__(self):
        super().__init__(1)
        self.tasks: list[list[dict]] = []

    def run(self, fn, tasks):
        tasks = list(tasks)
        self.tasks.append(tasks)
        return super().run(fn, tasks)


def _round_one_tasks(protocol: str, embedded, **kw):
    config = _config(protocol=protocol, **kw)
    candidates, masks = prune_candidates(get_space("nb201").initial_alive())
    proto = get_protocol(protocol)
    groups = proto.groups(config, functools.partial(derive_seed, config.seed), 0, 0, len(candidates))
    tasks, layout = _tasks(("nb201", {}), config, parse_objective("tenas"), InputSource(embedded, config), proto, 0, groups,
                           masks, "cpu", chunk=1)
    return candidates, groups, tasks, layout


# --------------------------------------------------------------------------------------------------
# sharing structure
# --------------------------------------------------------------------------------------------------
def test_paper_protocol_shares_weights_and_inputs_within_a_repeat(embedded):
    candidates, groups, tasks, layout = _round_one_tasks("paper", embedded)
    assert len(groups) == 2 and all(len(g.candidates) == len(candidates) for g in groups)
    by_repeat: dict[int, list[dict]] = {}
    for where, task in zip(layout, tasks):
        by_repeat.setdefault(groups[where[0][0]].repeat, []).append(task)
    for r, ts in by_repeat.items():
        assert len(ts) == len(candidates) + 1  # the supernet once, then every candidate
        assert all(t["ntk_init"] == ts[0]["ntk_init"] and t["ntk_init"][0] == "kaiming" for t in ts)
        assert all(np.array_equal(t["batch"], ts[0]["batch"]) and np.array_equal(t["crops"], ts[0]["crops"]) for t in ts)
    a, b = by_repeat[0][0], by_repeat[1][0]
    assert a["ntk_init"] != b["ntk_init"] and a["region_init"] != b["region_init"]  # re-drawn per repeat
    assert not np.array_equal(a["batch"], b["batch"])


def test_official_protocol_sharing_structure(embedded):
    candidates, groups, tasks, layout = _round_one_tasks("official", embedded)
    n = len(candidates)
    assert len(groups) == 2 * n and all(len(g.candidates) == 1 for g in groups)
    # every (candidate, repeat) measures the supernet again, on its own batch and crops
    units = {}
    for where, task in zip(layout, tasks):
        ((gi, col),) = where
        g = groups[gi]
        units.setdefault((g.candidates[0], g.repeat), []).append((col, task))
    assert len(units) == 2 * n and all(sorted(c for c, _ in v) == [0, j + 1] for (j, _), v in units.items())
    first = tasks[0]
    for task in tasks:
        assert task["ntk_init"] == first["ntk_init"] and task["ntk_init"][0] == "default"  # one NTK draw per round
        assert task["region_init"][0] == "default"
    for (j, r), v in units.items():
        (_, full), (_, cand) = v
        assert np.array_equal(full["batch"], cand["batch"]) and np.array_equal(full["crops"], cand["crops"])
        assert full["region_init"] == cand["region_init"]
        other = units[(j, 1 - r)][0][1]
        assert other["region_init"] == full["region_init"]  # region weights: per candidate, shared by repeats
        assert not np.array_equal(other["batch"], full["batch"])  # a new batch per repeat
        assert not np.array_equal(other["crops"], full["crops"])
        if j:
            prev = units[(j - 1, r)][0][1]
            assert prev["region_init"] != full["region_init"]  # a new thin network per candidate
            assert not np.array_equal(prev["batch"], full["batch"])


def test_official_crops_come_from_distinct_images(embedded):
    config = _config(region_samples=2500, region_batch=1000)
    crops = InputSource(embedded, config).crops(0, 0, unit=3, distinct=True)
    assert crops.shape == (2500, 1, 3, 3)
    # each chunk of 1,000 crops comes from 1,000 distinct images of the 2,000: recover the image of every crop
    from tenas.data import to_tensor

    images = to_tensor(embedded.x, embedded.name).numpy()
    windows = np.lib.stride_tricks.sliding_window_view(images, (3, 3), axis=(2, 3))  # N x C x 30 x 30 x 3 x 3
    flat = windows.reshape(len(images), -1, 9)
    for chunk in (crops[:1000], crops[1000:2000], crops[2000:]):
        owners = set()
        for crop in chunk[:40]:
            hit = np.flatnonzero((np.abs(flat - crop.reshape(1, 1, 9)).max(axis=2) < 1e-6).any(axis=1))
            assert len(hit) >= 1
            owners.add(int(hit[0]))
        assert len(owners) == 40


def test_darts_official_edge_phase_shares_one_ntk_draw(tmp_path):
    """The official code builds one NTK supernet for the whole DARTS edge-selection phase."""
    darts = get_space("darts")
    from tenas.spaces.darts import genotype  # noqa: F401  (the space's own check of the final mask)

    alive = darts.initial_alive().copy()
    alive[:] = False
    alive[:, :, 3] = True  # one op per edge (max_pool_3x3 ... any single op): the op phase is over
    config = SearchConfig(space="darts", protocol="official", repeats=1, batch_size=4, region_samples=50,
                          region_batch=50)
    from tenas.search.prune import SearchState

    state = SearchState(config={}, alive=alive.astype(int).tolist(), phase="edges")
    pool = RecordingPool()
    with pool:
        out = run_search(darts, load_dataset("cifar10"), config, pool, state=state)
    assert out.phase == "done" and len(out.rounds) == 6  # 3 nodes with > 2 inputs, in each of the 2 cell types
    inits = {t["ntk_init"] for tasks in pool.tasks for t in tasks}
    assert len(inits) == 1 and next(iter(inits))[0] == "default"
    regions = [{t["region_init"] for t in tasks} for tasks in pool.tasks]
    assert all(len(r) == len(rec["candidates"]) for r, rec in zip(regions, out.rounds))  # per candidate
    # both protocols remove an edge by switching all of its ops off
    for tasks in pool.tasks:
        full = np.asarray(tasks[0]["masks"][0], bool)  # the round's supernet
        for t in tasks:
            m = np.asarray(t["masks"][0], bool)
            removed = [(ct, e) for ct in range(2) for e in range(14) if full[ct, e].any() and not m[ct, e].any()]
            assert len(removed) in (0, 1) and (m <= full).all()
            assert all(not m[ct, e].any() for ct, e in removed)


@pytest.mark.parametrize("protocol", ["paper", "official"])
def test_darts_removed_edge_contributes_nothing(protocol):
    """An edge removed in the edge phase (every op off) is the same network as that edge's op output zeroed."""
    from tenas.spaces import darts as D

    net = D.supernet(C=2)
    alive = np.zeros(D.MASK_SHAPE, dtype=bool)
    alive[:, :, 4] = True  # sep_conv_3x3 everywhere
    kind = "default" if protocol == "official" else "kaiming"
    init_weights_(net, kind, 7)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    removed = alive.copy()
    removed[0, 6, :] = False
    net.train()
    got = net.set_alive(removed)(x)
    ref_net = copy.deepcopy(net).set_alive(alive)
    edge = ref_net._edges_by_type()[0][0][6]
    edge.ops[D.OP_NAMES[4]].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    want = ref_net(x)
    assert torch.allclose(got if not isinstance(got, tuple) else got[-1], want if not isinstance(want, tuple) else want[-1],
                          atol=1e-6)


# --------------------------------------------------------------------------------------------------
# the official weights, kernel and count on one (network, weights, batch)
# --------------------------------------------------------------------------------------------------
def test_default_init_is_pytorchs_reset_parameters():
    from tenas.spaces.nb201 import supernet

    net = supernet(num_classes=100)
    ref, ours = copy.deepcopy(net), copy.deepcopy(net)
    torch.manual_seed(11)
    for m in ref.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    default_init_(ours, torch.Generator().manual_seed(11))
    for (name, a), b in zip(ref.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), name
    # and not Kaiming normal: uniform within +-1/sqrt(fan_in) (fan_in 3*3*3 for the stem)
    w = ours.stem[0].weight
    assert w.abs().max() <= 1 / math.sqrt(27) + 1e-7


def _peer():
    supernets, get_ntk_n, collector = peer_import("models.cell_searchs:nas201_super_nets", "procedures.ntk:get_ntk_n",
                                                  "procedures.linear_region_counter:Linear_Region_Collector")
    return supernets["DARTS-V1"], get_ntk_n, collector


def _official_net(cls, ours, C, depth, use_stem, alive, num_classes):
    space = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    net = cls(C, 1, 4, num_classes, space, True, True, depth, use_stem)
    # (their thin network builds a stem it never runs)
    theirs = [p for n, p in net.named_parameters() if "arch" not in n and (use_stem or not n.startswith("stem."))]
    mine = list(ours.parameters())
    assert [p.shape for p in theirs] == [p.shape for p in mine]  # the same network, parameter by parameter
    with torch.no_grad():
        for a, b in zip(theirs, mine):
            a.copy_(b)
        alphas = torch.zeros(6, 5)
        alphas[~np.asarray(alive, bool).reshape(6, 5)] = -1000.0
        net.set_alphas([alphas])
    return net.train()


def test_official_kappa_and_regions_equal_the_official_procedure(embedded):
    """Our measurement of one (mask, weights, batch, crops) task equals the official code's on the same ones."""
    cls, get_ntk_n, Collector = _peer()
    torch.set_num_threads(1)
    candidates, groups, tasks, layout = _round_one_tasks("official", embedded, batch_size=16, region_samples=400,
                                                         region_batch=400)
    task = tasks[7]  # a candidate's mask, with its own batch and crops
    res = score_masks(task)
    space = get_space("nb201")
    mask = np.asarray(task["masks"][0], bool)
    ours = space.ntk_network(mask, 10)
    init_weights_(ours, *task["ntk_init"])
    net = _official_net(cls, ours.net, 3, -1, True, mask[0], 10)
    batch = torch.as_tensor(task["batch"])
    (kappa,) = get_ntk_n([(batch, torch.zeros(len(batch)))], [net], train_mode=True, num_batch=1)
    assert res["kappa"][0] == pytest.approx(kappa, rel=2e-3)  # theirs is float32 throughout

    thin = space.region_network(mask)
    init_weights_(thin, *task["region_init"], mode="fan_in")
    tnet = _official_net(cls, thin.net, 1, 1, False, mask[0], 10)
    lrc = Collector(models=[tnet], input_size=(400, 1, 3, 3), sample_batch=1, dataset="cifar10", data_path=None)
    lrc.forward(tnet, lrc.LRCounts[0], torch.as_tensor(task["crops"]))
    assert res["regions"][0] == pytest.approx(lrc.LRCounts[0].getLinearReginCount(), abs=1e-3)


# --------------------------------------------------------------------------------------------------
# rounding and ties
# --------------------------------------------------------------------------------------------------
def test_round_to_official_by_hand():
    assert round_to_official(0.123456) == pytest.approx(0.123)
    assert round_to_official(-0.0012345) == pytest.approx(-0.00123)
    assert round_to_official(1234.5) == pytest.approx(1230.0)
    assert round_to_official(0.0) == 0.0 and round_to_official(-math.inf) == -math.inf


def test_official_rank_ties_need_exact_equality():
    # 0.1231 and 0.1234 sort together at 3 significant digits but are different means: different ranks;
    # 0.2 twice: one rank
    values = [0.1234, 0.2, 0.1231, 0.2, -0.5]
    assert official_rank(values, descending=True) == [1, 0, 2, 0, 3]
    # the dense "rounded" rank of the paper protocol lets 0.1234 and 0.1231 share a rank
    ranked = rank_objective([(0, j, 0) for j in range(5)], {"ntk": values}, {"ntk": False}, ties="rounded")
    assert {r.edge: r.kappa_rank for r in ranked} == {0: 1, 1: 0, 2: 1, 3: 0, 4: 2}


def test_official_protocol_rounds_each_repeat():
    proto = get_protocol("official")
    config = SearchConfig()
    assert proto.repeat_change(0.12345, config) == 0.123 and proto.repeat_change(-math.inf, config) == -math.inf
    assert get_protocol("paper").repeat_change(0.12345, config) == 0.12345
    with pytest.raises(ValueError, match="unknown protocol 'nope'"):
        get_protocol("nope")


# --------------------------------------------------------------------------------------------------
# end to end and bad input
# --------------------------------------------------------------------------------------------------
SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300", "--quiet", "--workers", "1"]


def test_official_search_cli_end_to_end_and_resume_refusal(tmp_path, capsys):
    out = tmp_path / "off"
    assert main(["search", "--seed", "2", "--protocol", "official", "--out", str(out), *SMALL]) == 0
    result = read_json(out / "result.json")
    assert result["config"]["protocol"] == "official"
    first = result["rounds"][0]
    assert all(len(c["supernet_kappa"]) == 1 for c in first["candidates"])  # the supernet per candidate
    assert len({c["supernet_kappa"][0] for c in first["candidates"]}) > 1  # ... on its own batch
    # a state from one protocol is refused by another
    state = read_json(out / "result.json")
    atomic_write_json(out / "state.json", {"config": {**state["config"]}, "alive": state["rounds"][0]["alive_before"],
                                           "rounds": []})
    (out / "result.json").unlink()
    cfg = read_json(out / "state.json")["config"]
    for k in ("workers", "device", "backend"):
        cfg.pop(k)
    atomic_write_json(out / "state.json", {"config": cfg, "alive": state["rounds"][0]["alive_before"], "rounds": []})
    assert main(["search", "--seed", "2", "--out", str(out), *SMALL]) == 2
    assert "protocol" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--protocol", "official", "--init", "once"], "--protocol official fixes the weights"),
    (["--protocol", "official", "--kappa", "fixed-bn"], "drop --kappa fixed-bn"),
    (["--protocol", "mine"], "invalid choice: 'mine'"),
    (["--objective", "ntk+nope"], "unknown proxy 'nope'"),
    (["--objective", "ntk++regions"], "empty term"),
    (["--objective", "ntk+ntk"], "names a proxy twice"),
])
def test_bad_protocol_and_objective(tmp_path, capsys, args, message):
    try:
        rc = main(["search", "--out", str(tmp_path / "x"), *SMALL, *args])
    except SystemExit as e:  # argparse
        rc = e.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "result.json").exists()


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', '{"config": [], "alive": []}', "{not json"])
def test_state_file_that_is_not_a_state(tmp_path, capsys, content):
    out = tmp_path / "s"
    out.mkdir()
    (out / "state.json").write_text(content)
    assert main(["search", "--out", str(out), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "state.json" in err and "Traceback" not in err
