"""tenas correlate: statistics on hand-computed examples, and the run end to end on a few cells with a tiny
protocol (cache reuse, resume after an interruption, failures recorded and counted, worker independence)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math

import numpy as np
import pytest
import torch

from tenas.correlate import stats
from tenas.correlate.cache import CacheMismatch, ScoreCache
from tenas.correlate.protocol import Protocol
from tenas.correlate.run import CorrelateConfig, run_correlate, sample_cells
from tenas.indicators.registry import register_proxy, unregister_proxy

TINY = Protocol(C=2, N=1, batch_size=8, ntk_C=2, ntk_N=1, ntk_batch=4, region_samples=100)
HAVE_TE = all(importlib.util.find_spec(m) is not None for m in
              ("tenas.indicators.ntk", "tenas.indicators.regions", "tenas.indicators.init", "tenas.indicators.crops"))
PROXIES = ["params", "synflow", "naswot", "snip"] + (["ntk", "regions"] if HAVE_TE else [])


def cfg(tmp_path, **kw) -> CorrelateConfig:
    base = dict(dataset="cifar10", sample=10, seed=3, proxies=PROXIES, out=tmp_path / "out", protocol=TINY,
                workers=1, progress=False, plots=False, ensembles=[])
    base.update(kw)
    return CorrelateConfig(**base)


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------
def test_kendall_and_spearman_on_a_hand_computed_example():
    # pairs of (score, acc): 5 concordant, 1 discordant -> tau = 4/6; rank differences 0,1,-1,0 -> rho = 1 - 6*2/60
    r = stats.correlation(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
    assert r["kendall_tau"] == pytest.approx(4 / 6)
    assert r["spearman_rho"] == pytest.approx(0.8)
    assert (r["n"], r["failed"]) == (4, 0)


def test_failures_are_left_out_and_counted():
    r = stats.correlation(np.array([1.0, np.nan, 2, np.inf, 3, 4]), np.array([1.0, 50, 3, 60, 2, 4]))
    assert (r["n"], r["failed"]) == (4, 2)
    assert r["kendall_tau"] == pytest.approx(4 / 6)
    assert math.isnan(stats.correlation(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2, 3]))["kendall_tau"])


def test_ranks_ensembles_and_tenas_combination():
    assert stats.ranks(np.array([3.0, np.nan, 1.0, -np.inf, np.inf])).tolist() == [5, 2, 4, 2, 2]
    s = {"a": np.array([1.0, 2, 3]), "b": np.array([3.0, 1, 2])}
    assert stats.ensemble(s, ["a", "b"], "rank").tolist() == [4, 3, 5]
    np.testing.assert_allclose(stats.ensemble(s, ["a", "b"], "logrank"),
                               [math.log(1 / 3) + 0, math.log(2 / 3) + math.log(1 / 3), 0 + math.log(2 / 3)])
    assert stats.tenas_combination(np.array([-10.0, -5, -1]), np.array([3.0, 2, 1])).tolist() == [4, 4, 4]
    assert stats.parse_ensemble("x=rank:a+b") == ("x", "rank", ["a", "b"])
    assert stats.parse_ensemble("a+b") == ("logrank:a+b", "logrank", ["a", "b"])


def test_select_ensemble_is_greedy_and_in_sample():
    acc = np.arange(20.0)
    rng = np.random.default_rng(0)
    s = {"good": acc + rng.normal(0, 2, 20), "noise": rng.normal(0, 1, 20), "ok": acc + rng.normal(0, 6, 20)}
    path = stats.select_ensemble(s, acc, ["noise", "ok", "good"])
    assert path[0][0] == ["good"]
    assert len(path) == 3 and [len(m) for m, _ in path] == [1, 2, 3]


def test_sample_cells_prefix_and_determinism():
    a, b = sample_cells(10, 3), sample_cells(25, 3)
    assert a == sample_cells(10, 3) and set(a) <= set(b) and len(set(a)) == 10
    assert a != sample_cells(10, 4)
    assert sample_cells(None, 0) == list(range(15625))


# --------------------------------------------------------------------------------------------------
# end to end
# --------------------------------------------------------------------------------------------------
def test_correlate_end_to_end_twice_computes_nothing_new(tmp_path):
    c = cfg(tmp_path, plots=True, ensembles=["ens=logrank:synflow+naswot+params"], select_ensemble=True)
    first = run_correlate(c)
    assert first["cells_scored_now"] == 10 and first["rows_computed_now"] == 10 * len(PROXIES)
    out = tmp_path / "out"
    rows = list(csv.DictReader(open(out / "correlations.csv")))
    names = [r["name"] for r in rows]
    assert names[: len(PROXIES)] == PROXIES and "ens" in names and ("tenas" in names) == HAVE_TE
    data = json.load(open(out / "correlations.json"))
    assert data["sample"] == 10 and len(data["cells"]) == 10
    assert (out / "scatter_synflow.png").stat().st_size > 1000
    assert set(first["selection"]["paths"]) == {"logrank", "rank"}
    assert first["selection"]["paths"]["rank"][0]["members"][0] in PROXIES
    params = next(r for r in first["rows"] if r["name"] == "params")
    assert params["n"] == 10 and -1 <= params["kendall_tau"] <= 1
    second = run_correlate(c)
    assert second["cells_scored_now"] == 0 and second["rows_computed_now"] == 0
    assert [r["kendall_tau"] for r in second["rows"]] == [r["kendall_tau"] for r in first["rows"]]
    # more cells: only the new ones are scored (a larger sample contains the smaller one)
    third = run_correlate(cfg(tmp_path, sample=12))
    assert third["cells_scored_now"] == 2


def test_correlate_resumes_after_an_interruption(tmp_path):
    c = cfg(tmp_path, proxies=["params", "synflow"])
    seen = []

    def stop_after_three(cell, rows):
        seen.append(cell)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_correlate(c, on_result=stop_after_three)
    with ScoreCache(tmp_path / "out" / "scores.sqlite") as cache:
        assert cache.count() == 3 * 2
    resumed = run_correlate(c)
    assert resumed["cells_scored_now"] == 7 and resumed["rows_computed_now"] == 7 * 2
    # adding a proxy scores only that proxy
    more = run_correlate(cfg(tmp_path, proxies=["params", "synflow", "naswot"]))
    assert more["rows_computed_now"] == 10


def test_failing_proxies_are_recorded_counted_and_do_not_abort(tmp_path):
    @register_proxy("test_nan", higher_is_better=True, paper="test")
    def always_nan(model, inputs, targets=None, *, seed=0):
        """Always NaN."""
        return float("nan")

    @register_proxy("test_boom", higher_is_better=True, paper="test")
    def boom(model, inputs, targets=None, *, seed=0):
        """Always raises."""
        raise RuntimeError("boom")

    try:
        res = run_correlate(cfg(tmp_path, proxies=["params", "test_nan", "test_boom"], ensembles=[]))
    finally:
        unregister_proxy("test_nan")
        unregister_proxy("test_boom")
    by = {r["name"]: r for r in res["rows"]}
    assert by["test_nan"]["failed"] == 10 and by["test_nan"]["errors"] == {"nan": 10}
    assert by["test_boom"]["failed"] == 10 and by["test_boom"]["errors"] == {"RuntimeError: boom": 10}
    assert by["params"]["failed"] == 0 and by["params"]["n"] == 10
    with ScoreCache(tmp_path / "out" / "scores.sqlite") as cache:
        raw, err, *_ = cache.table(3, "cifar10", res["cells"], ["test_nan"])
    assert np.isnan(raw["test_nan"]).all() and set(err["test_nan"]) == {"nan"}


def test_cache_refuses_another_protocol(tmp_path):
    run_correlate(cfg(tmp_path, sample=2, proxies=["params"]))
    with pytest.raises(ValueError, match="not scored: synflow"):
        run_correlate(cfg(tmp_path, sample=2, proxies=["params"], ensembles=["e=params+synflow"]))
    run_correlate(cfg(tmp_path, sample=2, proxies=["params", "snip"]))
    other = Protocol(C=3, N=1, batch_size=8, ntk_C=2, ntk_N=1, ntk_batch=4)
    run_correlate(cfg(tmp_path, sample=2, proxies=["params"], protocol=other))  # params does not depend on C
    with pytest.raises(CacheMismatch, match="protocol:snip"):
        run_correlate(cfg(tmp_path, sample=2, proxies=["params", "snip"], protocol=other))


def test_two_workers_give_the_values_of_one(tmp_path):
    proxies = ["synflow", "naswot", "snip"]
    one = run_correlate(cfg(tmp_path, sample=4, proxies=proxies, out=tmp_path / "one"))
    two = run_correlate(cfg(tmp_path, sample=4, proxies=proxies, out=tmp_path / "two", workers=2))
    assert two["cells_scored_now"] == 4
    for name in proxies:
        a = np.array(one["cells"]), np.array(two["cells"])
        assert (a[0] == a[1]).all()
    with ScoreCache(tmp_path / "one" / "scores.sqlite") as c1, ScoreCache(tmp_path / "two" / "scores.sqlite") as c2:
        r1 = c1.table(3, "cifar10", one["cells"], proxies)[0]
        r2 = c2.table(3, "cifar10", two["cells"], proxies)[0]
    for name in proxies:
        np.testing.assert_array_equal(r1[name], r2[name])


def test_cli_score_and_correlate(tmp_path, capsys):
    from tenas.cli import main

    tiny = ["--C", "2", "--N", "1", "--batch-size", "8", "--ntk-batch", "4", "--ntk-C", "2", "--ntk-N", "1",
            "--region-samples", "100"]
    assert main(["score", "--space", "nb201", "5000", "0", "--proxies", "params,synflow", "--seed", "3", *tiny]) == 0
    text = capsys.readouterr().out
    assert "synflow^" in text and "830426" in text
    out = tmp_path / "cli"
    assert main(["correlate", "--space", "nb201", "--dataset", "cifar10", "--sample", "5", "--seed", "3",
                 "--proxies", "params,synflow", "--out", str(out), "--workers", "1", "--quiet", "--no-plots",
                 *tiny]) == 0
    text = capsys.readouterr().out
    assert "Kendall" not in text and "tau" in text and (out / "correlations.csv").exists()
    # scores.csv holds what the table is computed from: recompute synflow's tau from it with scipy
    from scipy.stats import kendalltau

    from tenas.bench.nb201 import lookup

    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and list(rows[0]) == ["cell", "index", "params", "synflow", "cifar10_test"]
    assert all(float(r["cifar10_test"]) == pytest.approx(lookup(r["cell"]).cifar10_test, abs=1e-4) for r in rows)
    with open(out / "correlations.csv") as f:
        table = {r["name"]: r for r in csv.DictReader(f)}
    tau = kendalltau([float(r["synflow"]) for r in rows], [float(r["cifar10_test"]) for r in rows]).statistic
    assert float(table["synflow"]["kendall_tau"]) == pytest.approx(tau, abs=1e-5)
    assert main(["score", "5000", "--proxies", "bogus"]) == 2


def test_cli_correlate_on_imagenet16_120(tmp_path, capsys):
    """ImageNet16-120 end to end on a small generated folder in the official layout: the proxies see 16 x 16
    images and 120-class networks, and the table is taken against the benchmark's ImageNet16-120 accuracy."""
    from test_data_loaders import _images, _py2_pickle, _rows

    from tenas.bench.nb201 import lookup
    from tenas.cli import main

    rng = np.random.default_rng(5)
    folder = tmp_path / "ImageNet16"
    folder.mkdir()
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        _py2_pickle({"data": _rows(_images(rng, 3, 16)), "labels": [int(v) for v in rng.integers(1, 121, 3)]},
                    folder / name)
    out = tmp_path / "c"
    tiny = ["--C", "2", "--N", "1", "--batch-size", "8", "--ntk-batch", "4", "--ntk-C", "2", "--ntk-N", "1",
            "--region-samples", "100"]
    assert main(["correlate", "--dataset", "ImageNet16-120", "--data", str(folder), "--sample", "4", "--seed", "1",
                 "--proxies", "params,naswot,regions", "--out", str(out), "--workers", "1", "--quiet", "--no-plots",
                 *tiny]) == 0
    import csv

    with open(out / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and "imagenet16_120_test" in rows[0]
    assert all(float(r["imagenet16_120_test"]) == pytest.approx(lookup(r["cell"]).imagenet16_120_test, abs=1e-4)
               for r in rows)
    # the data-driven proxies ran on the 16 x 16 images (naswot's kernel is singular for a cell of none / pooling
    # only: a recorded failure, an empty field)
    assert all(r["regions"] for r in rows) and sum(bool(r["naswot"]) for r in rows) >= 3
    # params counts the 120-class classifier: more than the same cell's 10-class network
    from tenas.correlate.protocol import Protocol, build, net_spec

    spec = net_spec("params", Protocol(C=2, N=1))
    ten = sum(p.numel() for p in build(int(rows[0]["index"]), spec, 10, 1).parameters())
    assert float(rows[0]["params"]) > ten
