"""tenas correlate on NAS-Bench-Macro: cells sampled from its table, scored on the space's own networks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.stats import kendalltau

from tenas.cli import main
from tenas.report.results import read_json


def test_correlate_macro_params_is_the_tables_own_count(tmp_path, shared_dir, capsys):
    with open(shared_dir / "data" / "nb_macro" / "nb_macro_cifar10.csv") as f:
        rows = list(csv.DictReader(f))
    out = tmp_path / "corr"
    assert main(["correlate", "--space", "macro", "--sample", "40", "--seed", "2", "--proxies", "params,synflow",
                 "--workers", "1", "--no-plots", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "NAS-Bench-Macro" in printed
    result = read_json(out / "correlations.json")
    cells = result["cells"]
    assert len(cells) == 40 and result["space"] == "macro"
    # the scores.csv params column is the benchmark's own parameter count of each sampled row
    with open(out / "scores.csv") as f:
        scored = list(csv.DictReader(f))
    for row in scored:
        cell = int(row["index"])
        assert row["cell"] == rows[int(row["index"])]["arch"]
        assert float(row["params"]) == int(rows[cell]["params"])
    acc = np.array([float(rows[c]["mean_acc"]) for c in cells])
    params = np.array([int(rows[c]["params"]) for c in cells])
    want = kendalltau(params, acc).statistic
    got = next(r for r in result["rows"] if r["name"] == "params")["kendall_tau"]
    assert got == pytest.approx(want, abs=1e-9)


def test_correlate_refuses_a_space_without_a_table(tmp_path, capsys):
    assert main(["correlate", "--space", "darts", "--sample", "5", "--proxies", "params", "--workers", "1",
                 "--no-plots", "--quiet", "--out", str(tmp_path / "d")]) == 2
    assert "no benchmark table" in capsys.readouterr().err


def test_score_macro_prints_the_tables_params_and_the_record(shared_dir, capsys):
    """``tenas score --space macro``: params is the table's count of the string; the legend shows its record."""
    with open(shared_dir / "data" / "nb_macro" / "nb_macro_cifar10.csv") as f:
        rows = {r["arch"]: r for r in csv.DictReader(f)}
    archs = ["22212220", "12121211"]  # canonical already (no identity)
    assert main(["score", "--space", "macro", *archs, "--proxies", "params"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.split() == ["#", "params^"])
    for k, arch in enumerate(archs, 1):
        assert out[header + k].split() == [str(k), rows[arch]["params"]]
        legend = out.index(f"#{k}: {arch}")
        assert f"CIFAR-10 test accuracy {float(rows[arch]['mean_acc']):.2f}" in out[legend + 1]
    assert main(["score", "--space", "macro", "0120112", "--proxies", "params"]) == 2
    assert "expected 8 digits" in capsys.readouterr().err
