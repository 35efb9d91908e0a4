"""The TE-NAS search end to end (small settings so that it runs in seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tenas.bench._table import load_table
from tenas.cli import main
from tenas.parallel.local import LocalPool
from tenas.report.results import atomic_write_json, read_json
from tenas.search.prune import SearchConfig, SearchState, run_search
from tenas.spaces import get_space
from tenas.spaces.nb201 import OP_NAMES, parse_arch

SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300", "--quiet"]


def _config(**kw) -> SearchConfig:
    base = dict(repeats=1, batch_size=8, region_samples=300, region_batch=300)
    base.update(kw)
    return SearchConfig(**base)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One small search through the CLI (seed 3, one worker), shared by several tests."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("search") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["search", "--seed", "3", "--out", str(out), "--workers", "1", *SMALL]) == 0
    return out, printed.getvalue()


def test_search_cli_end_to_end(cli_run):
    out, printed = cli_run
    result = read_json(out / "result.json")
    cell = parse_arch(result["arch"])  # a valid NB201 cell
    assert "none" not in cell  # the search never revives `none`
    archs, cols = load_table()
    index = archs.index(result["arch"])
    assert result["benchmark"]["index"] == index
    assert result["benchmark"]["cifar10_test"] == pytest.approx(cols["cifar10_test"][index])
    assert f"{cols['cifar10_test'][index]:.2f}" in printed and result["arch"] in printed
    # three rounds of 4 -> 3 -> 2 -> 1 ops on each of the 6 edges, one pruned per edge per round
    assert [len(r["candidates"]) for r in result["rounds"]] == [24, 18, 12]
    for r in result["rounds"]:
        assert len(r["pruned"]) == 6 and sorted(p["edge"] for p in r["pruned"]) == list(range(6))
        # the pruned op on each edge has the lowest rank sum of that edge
        for p in r["pruned"]:
            sums = [c["rank_sum"] for c in r["candidates"] if c["edge"] == p["edge"]]
            chosen = [c for c in r["candidates"] if c["edge"] == p["edge"] and c["pruned"]]
            assert chosen[0]["rank_sum"] == min(sums)
    assert (out / "trajectory.png").stat().st_size > 10_000
    assert result["config"]["seed"] == 3 and result["seconds"] > 0


def test_search_is_unchanged_by_the_space_contract(cli_run):
    """The cell and every candidate's rank sum of this small search, as the code before the search-space contract
    (commit c8783bf) computed them (benchmarks/results/space_quality_2026-12-06/pin_refactor_c8783bf.json)."""
    from pathlib import Path

    pinned = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "space_quality_2026-12-06"
                         / "pin_refactor_c8783bf.json").read_text())["nb201-3"]
    result = read_json(cli_run[0] / "result.json")
    assert result["arch"] == pinned["arch"]
    assert [[c["rank_sum"] for c in r["candidates"]] for r in result["rounds"]] == pinned["rank_sums"]


def test_finished_out_is_not_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    atomic_write_json(out / "result.json", {"arch": "x"})
    assert main(["search", "--out", str(out), *SMALL]) == 2
    assert "--force" in capsys.readouterr().err
    assert read_json(out / "result.json") == {"arch": "x"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mnist"], "unknown dataset"),
        (["--space", "nope"], "unknown search space"),
        (["--dataset", "cifar100"], "--data"),
    ],
)
def test_bad_input_gives_one_clear_message(tmp_path, capsys, argv, message):
    assert main(["search", "--out", str(tmp_path / "o"), *SMALL, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_seed_must_be_an_integer(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search", "--seed", "abc"])
    assert exc.value.code == 2
    assert "seed must be an integer" in capsys.readouterr().err


def test_batch_larger_than_data_and_wrong_data_path(tmp_path, capsys):
    small = tmp_path / "five.npz"
    rng = np.random.default_rng(0)
    np.savez(small, x=rng.integers(0, 255, (5, 32, 32, 3), dtype=np.uint8), y=np.arange(5) % 10)
    assert main(["search", "--data", str(small), "--out", str(tmp_path / "o"), *SMALL]) == 2
    assert "larger than the data" in capsys.readouterr().err
    assert main(["search", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o2"), *SMALL]) == 2
    assert str(tmp_path / "missing") in capsys.readouterr().err


def test_same_seed_same_result_with_two_workers(cli_run, embedded):
    """The API with 2 worker processes reproduces the CLI's 1-worker run number for number."""
    out, _ = cli_run
    serial = read_json(out / "result.json")
    with LocalPool(workers=2) as pool:
        parallel = run_search(get_space("nb201"), embedded, _config(seed=3), pool)
    assert parallel.alive == serial_alive(serial)
    for rs, rp in zip(serial["rounds"], parallel.rounds):
        assert [x["kappa"] for x in rs["candidates"]] == [x["kappa"] for x in rp["candidates"]]
        assert [x["regions"] for x in rs["candidates"]] == [x["regions"] for x in rp["candidates"]]
        assert rs["pruned"] == rp["pruned"]


def serial_alive(result: dict) -> list:
    alive = np.array(result["rounds"][-1]["alive_before"])
    for p in result["rounds"][-1]["pruned"]:
        alive[0, p["edge"], OP_NAMES.index(p["op"])] = 0
    return alive.tolist()


def test_killed_run_resumes_to_the_same_result(tmp_path, embedded, cli_run):
    space = get_space("nb201")
    state_file = tmp_path / "state.json"

    class Killed(Exception):
        pass

    def save_then_die(state: SearchState):
        atomic_write_json(state_file, state.to_dict())
        if len(state.rounds) == 1:
            raise Killed

    with LocalPool(workers=1) as pool:
        with pytest.raises(Killed):
            run_search(space, embedded, _config(seed=3), pool, on_round=save_then_die)
        saved = SearchState(**read_json(state_file))
        assert len(saved.rounds) == 1
        resumed = run_search(space, embedded, _config(seed=3), pool, state=saved)
    full = read_json(cli_run[0] / "result.json")
    assert resumed.alive == serial_alive(full)
    assert json.dumps(resumed.rounds) == json.dumps(full["rounds"])


def test_cli_resumes_from_state(tmp_path, capsys, cli_run):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(cli_run[0], out)
    finished = read_json(out / "result.json")
    state = read_json(out / "state.json")
    # pretend the run was killed after round 2: drop the result and the last round
    (out / "result.json").unlink()
    state["rounds"] = state["rounds"][:2]
    state["alive"] = np.array(state["rounds"][1]["alive_before"])
    for p in state["rounds"][1]["pruned"]:
        state["alive"][0, p["edge"], OP_NAMES.index(p["op"])] = 0
    state["alive"] = state["alive"].tolist()
    atomic_write_json(out / "state.json", state)
    assert main(["search", "--seed", "3", "--out", str(out), "--workers", "1", *SMALL]) == 0
    assert "resuming" in capsys.readouterr().err
    again = read_json(out / "result.json")
    assert again["arch"] == finished["arch"]
    assert again["rounds"][2]["candidates"] == finished["rounds"][2]["candidates"]
    # other settings with the same --out are refused
    (out / "result.json").unlink()
    assert main(["search", "--seed", "4", "--out", str(out), *SMALL]) == 2
    assert "other settings" in capsys.readouterr().err


def test_onednn_switch_is_scoped_to_cpu_measurements():
    """DARTS' supernets measure with oneDNN off on CPU (faster for 1-channel convs); the flag comes back."""
    import torch

    from tenas.search.measure import _onednn
    from tenas.spaces.darts import DartsSearchSpace

    assert DartsSearchSpace.cpu_onednn is False
    before = torch.backends.mkldnn.enabled
    with _onednn(False, torch.device("cpu")):
        assert torch.backends.mkldnn.enabled is False
    assert torch.backends.mkldnn.enabled == before
    with _onednn(True, torch.device("cpu")):
        assert torch.backends.mkldnn.enabled == before


def test_fixed_bn_kappa_option(tmp_path, capsys, embedded, cli_run):
    """--kappa fixed-bn: the estimator is what the workers compute (its kappa of the full supernet equals a
    direct call with the same weights and batch), it is recorded, and a state written without the field
    (an older run) resumes as an exact-kappa search."""
    import torch

    from tenas.indicators.init import kaiming_init_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.search.inputs import InputSource, _generator, derive_seed
    from tenas.spaces.nb201 import supernet

    config = _config(seed=3, kappa="fixed-bn")
    with LocalPool(workers=1) as pool:
        state = run_search(get_space("nb201"), embedded, config, pool)
    assert state.config["kappa"] == "fixed-bn"
    net = supernet(C=3, N=1)
    kaiming_init_(net, mode="fan_out", generator=_generator(derive_seed(3, 0, 0, "ntk_init")))
    batch = torch.as_tensor(InputSource(embedded, config).batch(0, 0))
    want = ntk_condition_number(net, batch, bn="fixed")
    assert state.rounds[0]["supernet_kappa"] == pytest.approx(want, rel=1e-5)
    exact = read_json(cli_run[0] / "result.json")["rounds"][0]["supernet_kappa"]
    assert abs(state.rounds[0]["supernet_kappa"] - exact) > 1e-3 * exact  # a different kernel

    out = tmp_path / "old"
    out.mkdir()
    old_state = read_json(cli_run[0] / "state.json")
    del old_state["config"]["kappa"]
    old_state["phase"] = "done"  # all rounds finished: resuming only writes the result
    atomic_write_json(out / "state.json", old_state)
    assert main(["search", "--seed", "3", "--out", str(out), "--workers", "1", *SMALL]) == 0
    assert "resuming" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["search", "--seed", "3", "--out", str(out / "x"), "--kappa", "frozen", *SMALL])
    assert exc.value.code == 2 and "--kappa" in capsys.readouterr().err
