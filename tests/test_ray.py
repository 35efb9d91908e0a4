"""The Ray backend: same numbers as the local one, a task whose worker dies is retried, correlate resumes.

The whole search on both backends, to the same cell, is in benchmarks/speed/bench_ray.py (too slow here).
One local Ray instance (2 CPUs, started by :class:`RayPool` as ``tenas ... --backend ray`` does) serves
the whole module; every other pool and CLI call here finds it running and uses it.
"""

from __future__ import annotations

import os
import dataclasses
import functools
import sqlite3

import pytest

ray = pytest.importorskip("ray")

from tenas.cli import main  # noqa: E402
from tenas.parallel.ray import RayPool, run_cells  # noqa: E402
from tenas.report.results import read_json  # noqa: E402

SMALL = ["--repeats", "1", "--batch-size", "8", "--region-samples", "300", "--quiet"]


@pytest.fixture(scope="module")
def pool():
    assert not ray.is_initialized()
    with RayPool(workers=2) as p:  # ray.init(num_cpus=2, include_dashboard=False, loopback only, temp dir)
        assert p._owns and ray.cluster_resources()["CPU"] == 2
        yield p
    assert not ray.is_initialized()


def test_a_task_whose_worker_dies_is_retried(pool, tmp_path):
    marker = str(tmp_path / "died")

    def die_once(x):  # defined here so that Ray ships it by value
        import os

        import torch

        if x == 2 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies, as if killed
        return x * x, torch.get_num_threads()

    got = dict(pool.run(die_once, range(5)))
    assert os.path.exists(marker)  # it did die once
    assert got == {i: (i * i, 1) for i in range(5)}  # and every result arrived, each task on 1 torch thread


def test_a_failing_task_raises_its_error(pool):
    def bad(x):
        raise ValueError(f"bad task {x}")

    with pytest.raises(ValueError, match="bad task 0"):
        list(pool.run(bad, [0]))
    assert list(pool.run(abs, [])) == []


def _rows(out):
    with sqlite3.connect(str(out / "scores.sqlite")) as db:
        return sorted(db.execute("SELECT cell, proxy, seed, dataset, raw, error FROM scores").fetchall())


def test_correlate_on_ray_equals_local_and_resumes_after_the_driver_dies(pool, tmp_path):
    from tenas.correlate.protocol import Protocol
    from tenas.correlate.run import CorrelateConfig, run_correlate

    small = Protocol(C=4, N=1, batch_size=8, ntk_batch=8)  # quick networks; same protocol as `argv` below

    def cfg(out, workers):
        return CorrelateConfig(sample=5, seed=3, proxies="params,naswot", out=tmp_path / out, workers=workers,
                               protocol=small, plots=False, progress=False)

    reference = run_correlate(cfg("local", 1))  # in this process, 1 torch thread

    class DriverDied(Exception):
        pass

    arrived = []

    def die_after_two(cell, rows):
        arrived.append(cell)
        if len(arrived) == 2:
            raise DriverDied

    with pytest.raises(DriverDied):
        run_correlate(dataclasses.replace(cfg("ray", 2), runner=functools.partial(run_cells, pool)),
                      on_result=die_after_two)
    assert len({c for c, *_ in _rows(tmp_path / "ray")}) == 2  # what arrived was committed

    # resume through the CLI on the running Ray instance: only the missing 3 cells are scored
    argv = ["correlate", "--backend", "ray", "--sample", "5", "--seed", "3", "--proxies", "params,naswot",
            "--C", "4", "--N", "1", "--batch-size", "8", "--ntk-batch", "8",
            "--out", str(tmp_path / "ray"), "--no-plots", "--quiet"]
    assert main(argv) == 0
    assert read_json(tmp_path / "ray" / "correlations.json")["cells_scored_now"] == 3
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "local")  # bitwise the same scores
    taus = [(r["name"], repr(r.get("kendall_tau")), repr(r.get("spearman_rho")))
            for r in read_json(tmp_path / "ray" / "correlations.json")["rows"]]
    assert taus == [(r["name"], repr(r.get("kendall_tau")), repr(r.get("spearman_rho"))) for r in reference["rows"]]


def test_search_on_ray_equals_local(pool):
    for module in ("ntk", "regions", "init", "crops"):
        pytest.importorskip(f"tenas.indicators.{module}")
    from tenas.data import load_dataset
    from tenas.parallel.local import LocalPool
    from tenas.search.prune import SearchConfig, run_search
    from tenas.spaces import get_space

    class FirstRoundDone(Exception):  # the rest of the search is a function of these scores; keeps it short
        pass

    def stop(state):
        raise FirstRoundDone(state.to_dict())

    space, data = get_space("nb201"), load_dataset("cifar10")
    config = SearchConfig(seed=7, repeats=1, batch_size=8, region_samples=300, region_batch=300)
    with LocalPool(workers=1) as local, pytest.raises(FirstRoundDone) as on_local:
        run_search(space, data, config, local, on_round=stop)
    with pytest.raises(FirstRoundDone) as on_ray:
        run_search(space, data, config, pool, on_round=stop)
    local_round, ray_round = on_local.value.args[0]["rounds"][0], on_ray.value.args[0]["rounds"][0]
    assert len(ray_round["candidates"]) == 24
    assert ray_round == local_round  # kappa and R of the supernet and of every candidate, bitwise; same prunes
    assert on_ray.value.args[0]["alive"] == on_local.value.args[0]["alive"]


def test_a_local_start_that_times_out_is_retried_then_one_clear_error(tmp_path):
    from tenas.cli import UserError

    class FakeRay:  # ray.init as on an overloaded machine (Ray gives its raylet 30 s)
        def __init__(self, fail):
            self.fail, self.inits, self.shutdowns, self.dirs = fail, 0, 0, []

        def init(self, **kw):
            self.inits += 1
            self.dirs.append(kw["_temp_dir"])
            if self.inits <= self.fail:
                raise Exception("The current node timed out during startup.")

        def shutdown(self):
            self.shutdowns += 1

    flaky = FakeRay(fail=1)
    p = RayPool(workers=2)
    p._start_local(flaky)
    assert (flaky.inits, flaky.shutdowns) == (2, 1) and p._temp_dir == flaky.dirs[1]
    assert not os.path.exists(flaky.dirs[0])
    os.rmdir(p._temp_dir)

    broken = FakeRay(fail=5)
    with pytest.raises(UserError, match="Ray did not start here .*timed out during startup.*--address"):
        RayPool(workers=2)._start_local(broken)
    assert broken.inits == 2 and not any(os.path.exists(d) for d in broken.dirs)
