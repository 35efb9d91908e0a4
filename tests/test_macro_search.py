"""Searches on spaces other than NAS-Bench-201, through the CLI and through tenas.run_search (small settings)."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

import pytest

import tenas
from tenas.cli import main
from tenas.report.results import read_json

SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "200", "--quiet", "--workers", "1"]
ROOT = Path(__file__).resolve().parents[1]
USER = f"{ROOT / 'examples' / 'tiny_resnet.py'}:TinyResNet"


def _search(argv) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["search", *argv])
    return rc, printed.getvalue()


@pytest.fixture(scope="module")
def macro_table(shared_dir):
    with open(shared_dir / "data" / "nb_macro" / "nb_macro_cifar10.csv") as f:
        return {r["arch"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def budget_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("macro") / "run"
    rc, printed = _search(["--space", "macro", "--max-flops", "60M", "--seed", "1", "--out", str(out), *SMALL])
    assert rc == 0
    return out, printed


def test_macro_search_under_a_flops_budget(budget_run, macro_table):
    out, printed = budget_run
    result = read_json(out / "result.json")
    arch = result["arch"]
    assert re.fullmatch(r"[0-2]{8}", arch) and arch == tenas.get_space("macro").canonical(arch)  # one string per class
    row = macro_table[arch]
    assert result["cost"] == {"params": int(row["params"]), "flops": int(row["flops"])}  # the table's own count
    assert int(row["flops"]) <= 60_000_000 and result["budget"]["max_flops"] == 60_000_000
    assert result["benchmark"]["mean_acc"] == pytest.approx(float(row["mean_acc"]))
    # two rounds on 8 layers: 3 -> 2 -> 1 ops each
    assert [len(r["candidates"]) for r in result["rounds"]] == [24, 16]
    assert f"{float(row['mean_acc']):.2f}" in printed and "budget" in printed


def test_resume_refuses_another_budget(budget_run, tmp_path, capsys):
    out, _ = budget_run
    state = out / "state.json"
    other = tmp_path / "other"
    other.mkdir()
    other.joinpath("state.json").write_text(state.read_text())
    rc, _ = _search(["--space", "macro", "--max-flops", "50M", "--seed", "1", "--out", str(other), *SMALL])
    assert rc == 2 and "max_flops" in capsys.readouterr().err
    rc, _ = _search(["--space", "nb201", "--seed", "1", "--out", str(other), *SMALL])
    assert rc == 2 and "space" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--space", "macro", "--max-params", "12abc"], "does not parse"),
    (["--space", "macro", "--max-params", "0"], "at least 1"),
    (["--space", "macro", "--max-params=-5M"], "does not parse"),
    (["--space", "macro", "--max-params", "100k"], "smallest has"),
    (["--space", "darts", "--max-params", "1M"], "smallest has 1,"),
    (["--space", f"{ROOT / 'tests' / 'data' / 'costless_space.py'}:Costless", "--max-flops", "60M"],
     "cannot take --max-params"),
    (["--space", "no_such_pkg_zz.mod:Space"], "does not import"),
    (["--space", "tenas.spaces.base:Nope"], "has no class"),
    (["--space", "macro", "--dataset", "ImageNet16-120"], "unknown dataset"),
    (["--space", "macro", "--candidate-batch", "4"], "edge_weights"),
])
def test_bad_input_gives_one_clear_message(tmp_path, capsys, argv, message):
    rc, _ = _search([*argv, "--out", str(tmp_path / "x"), *SMALL])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_readme_shows_the_example_space_whole():
    """The README's user-defined space is examples/tiny_resnet.py, line for line, and is under 90 lines."""
    readme = (ROOT / "README.md").read_text()
    code = (ROOT / "examples" / "tiny_resnet.py").read_text()
    assert code.strip() in readme and len(code.splitlines()) < 90


def test_user_space_from_a_file_end_to_end_in_two_workers(tmp_path):
    """`--space path/to/file.py:Class` with 2 worker processes (spawned: they rebuild the space from the file)."""
    out = tmp_path / "mine"
    argv = ["--space", USER, "--max-params", "200k", "--seed", "0", "--out", str(out), *SMALL]
    argv[argv.index("--workers") + 1] = "2"
    rc, printed = _search(argv)
    assert rc == 0
    result = read_json(out / "result.json")
    space = tenas.get_space(USER)
    assert result["arch"] == space.canonical(result["arch"])
    assert result["cost"]["params"] == space.cost(result["arch"], 10).params <= 200_000
    assert result["config"]["space"].endswith("tiny_resnet.py:TinyResNet")


def test_run_search_from_code_with_a_space_object(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from tiny_resnet import TinyResNet
    finally:
        sys.path.remove(str(ROOT / "examples"))
    result = tenas.run_search(space=TinyResNet(), data=None, budget={"flops": "40M"}, repeats=1, batch_size=8, seed=0)
    assert result["cost"]["flops"] <= 40_000_000 and len(result["arch"]) == 4
    assert result["budget"]["max_flops"] == 40_000_000


def test_local_search_climbs_only_within_the_budget(tmp_path):
    """--local-search params:3 on the user space under a params budget: every architecture on the path is within
    it (the space's own cost), and each move goes to the neighbour with the most parameters that is."""
    out = tmp_path / "local"
    rc, _ = _search(["--space", USER, "--max-params", "150k", "--local-search", "params:3", "--out", str(out), *SMALL])
    assert rc == 0
    result = read_json(out / "result.json")
    space = tenas.get_space(USER)
    path = result["local_step"]["path"]
    assert path[-1] == result["arch"]
    for a, b in zip(path, path[1:]):
        within = [n for n in space.neighbours(a) + [a] if space.cost(n, 10).params <= 150_000]
        assert b == max(within, key=lambda n: space.cost(n, 10).params)
    assert all(space.cost(a, 10).params <= 150_000 for a in path)


@pytest.mark.parametrize("argv, message", [
    (["--local-search", "nosuchproxy:2"], "unknown proxy"),
    (["--local-search", "synflow:0"], "positive integer"),
    (["--local-search", "synflow@nope"], "protocol"),
    (["--objective", "tenas+", "--local-search", "synflow"], "already ends with a local search"),
])
def test_bad_local_search_is_refused(tmp_path, capsys, argv, message):
    rc, _ = _search(["--space", "macro", *argv, "--out", str(tmp_path / "x"), *SMALL])
    assert rc == 2 and message in capsys.readouterr().err


def test_a_budget_on_a_space_without_costs_is_refused(tmp_path, capsys):
    path = tmp_path / "nocost.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(ROOT / 'examples')!r})\nfrom tiny_resnet import TinyResNet\n\n"
                    "class NoCost(TinyResNet):\n    def cost(self, arch, num_classes):\n        return None\n")
    rc, _ = _search(["--space", f"{path}:NoCost", "--max-flops", "10M", "--out", str(tmp_path / "x"), *SMALL])
    assert rc == 2 and "no cost function" in capsys.readouterr().err
