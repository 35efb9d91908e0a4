"""``tenas correlate``: score NAS-Bench-201 cells with every proxy and rank-correlate with the benchmark.

Scores go to ``DIR/scores.sqlite`` as they are computed (see :mod:`tenas.correlate.cache`): a re-run
computes only the missing (cell, proxy) rows, an interrupted run resumes. Cells are scored in a pool of
worker processes (``spawn``, one torch thread each); every random choice comes from (seed, cell index)
(:mod:`tenas.correlate.protocol`), so the numbers do not depend on the worker count.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from tenas.correlate import stats
from tenas.correlate.cache import ScoreCache, dumps
from tenas.correlate.protocol import DATASETS, Inputs, Protocol, derive_seed, load_inputs, score_cell
from tenas.spaces import DEFAULT_SPACE

NUM_CELLS = 15625
CACHE_FILE = "scores.sqlite"

#: Ensembles reported by default, as "name=how:member+member+...".
#:
#: ``ens5`` was chosen *before* looking at any reported sample: greedy forward selection
#: (:func:`tenas.correlate.stats.select_ensemble`, ``--select-ensemble``) over all 13 proxies on the
#: selection run -- CIFAR-10, 1,000 cells, ``--seed 1``, default protocol -- stopping where Kendall tau
#: peaked (0.730 in-sample for logrank; the best rank-sum path peaked at 0.706, kept as ``ens5_rank``).
#: Report it on other seeds (``--seed 0``: other cells, batch and weights) or other datasets only.
#: ``all13`` (every proxy, log-rank) is the a-priori "use everything" baseline.
#:
#: ``zoo8`` and ``zoo2`` were chosen the same way on the published protocol (2026-12-02): greedy logrank selection
#: over meco, swap, flops, params, synflow, naswot, jacob_cov, zico, regions and AZ-NAS' three scores on CIFAR-10,
#: 1,000 cells, ``--seed 0`` (benchmarks/results/correlate_published_2026-12-02/c10_s0): ``zoo8`` is where the path
#: peaked (0.805 in-sample, at the 8-member limit; about 2.2 CPU-s per cell), ``zoo2`` its cheap first step (0.764,
#: 0.33 CPU-s per cell). Both were written here before any other sample was scored with them.
DEFAULT_ENSEMBLES: tuple[str, ...] = (
    "zoo8=logrank:meco+swap+az_progressivity+zico+jacob_cov+az_trainability+flops+az_expressivity",
    "zoo2=logrank:meco+swap",
    "ens5=logrank:naswot+jacob_cov+flops+synflow+ntk",
    "ens5_rank=rank:naswot+jacob_cov+synflow+ntk+flops",
    "all13=logrank:fisher+flops+grad_norm+grasp+jacob_cov+naswot+ntk+params+regions+snip+synflow+zen+zico",
    # the published aggregates, as their official code builds them (log-rank sums; FLOPs is AZ-NAS' complexity)
    "az_nas=logrank:az_expressivity+az_progressivity+az_trainability+flops",
    "vkdnw_agg=logrank:vkdnw_single+az_expressivity+az_trainability+jacob_cov+flops",
)


@dataclasses.dataclass
class CorrelateConfig:
    space: str = DEFAULT_SPACE  # a registered name, module:Class or file.py:Class with a benchmark table
    dataset: str = "cifar10"
    sample: int | None = 1000  # None: all 15,625 cells
    seed: int = 0
    proxies: Sequence[str] | None = None  # None: all registered
    data: str | None = None
    out: str | os.PathLike = "correlate"
    protocol: Protocol = dataclasses.field(default_factory=Protocol)
    workers: int = 2
    ensembles: Sequence[str] | None = None  # None: DEFAULT_ENSEMBLES (those whose members were scored)
    plots: bool = True
    progress: bool = True
    select_ensemble: bool = False
    #: only cells without a dead op (every op on an input-to-output path), as VKDNW's study samples NB201
    live_only: bool = False
    #: How cells are scored when ``workers`` > 1: ``runner(todo, ctx, record)`` with ``todo`` =
    #: [(cell, proxies)], ``ctx`` the scoring context and ``record(cell, rows)`` called as each cell arrives
    #: (e.g. ``functools.partial(tenas.parallel.ray.run_cells, pool)``). None: local worker processes.
    runner: Callable[[list, dict, Callable[[int, list], None]], None] | None = None


def sample_cells(sample: int | None, seed: int, live_only: bool = False, space=None,
                 archs: Sequence[str] | None = None) -> list[int]:
    """``sample`` benchmark indices drawn without replacement from ``seed`` (sorted); None = all cells.

    The draw is a prefix of one permutation, so a larger sample with the same seed contains a smaller one.
    ``live_only``: the same permutation with the cells that have a dead op (``space.has_dead_op``) left out.
    ``archs``: the space's benchmark rows (default: NAS-Bench-201's 15,625).
    """
    total = NUM_CELLS if archs is None else len(archs)
    if sample is not None and sample < 1:
        raise ValueError(f"--sample must be at least 1 (or 'all'), got {sample}")
    if not live_only and (sample is None or sample >= total):
        return list(range(total))
    perm = np.random.default_rng(derive_seed(seed, "sample")).permutation(total)
    if live_only:
        from tenas.correlate.protocol import _space

        space = _space(space)
        dead = getattr(space, "has_dead_op", None)
        if dead is None:
            raise ValueError(f"--live-only: space {space.name!r} has no dead ops to leave out")
        perm = np.array([i for i in perm if not dead(archs[int(i)] if archs is not None else int(i))])
    return sorted(int(i) for i in perm[:sample])


# --------------------------------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------------------------------
_CTX: dict[str, Any] = {}


def _init_worker(ctx: dict[str, Any], threads: int) -> None:
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    _CTX.clear()
    _CTX.update(ctx)


def _score_task(cell: int, proxies: list[str]) -> tuple[int, list]:
    c = _CTX
    return cell, _score(c, cell, proxies)


def _score(ctx: dict, cell: int, proxies) -> list:
    """One benchmark row's scores: the space's architecture string of row ``cell`` (NAS-Bench-201: its index)."""
    space, archs = ctx.get("space"), ctx.get("archs")
    arch = cell if space is None else archs[cell]
    return score_cell(arch, list(proxies), ctx["dataset"], ctx["seed"], ctx["protocol"], ctx["inputs"], space=space,
                      num_classes=ctx.get("num_classes"))


def compute_missing(cache: ScoreCache, cfg: CorrelateConfig, cells: Sequence[int], proxies: Sequence[str],
                    inputs: Inputs, on_result: Callable[[int, list], None] | None = None,
                    space_ctx: dict | None = None) -> int:
    """Score every (cell, proxy) without a row in ``cache``; returns the number of cells scored."""
    from tqdm import tqdm

    todo = sorted(cache.missing(cfg.seed, cfg.dataset, cells, proxies).items())
    if not todo:
        return 0
    ctx = {"dataset": cfg.dataset, "seed": cfg.seed, "protocol": cfg.protocol, "inputs": inputs, **(space_ctx or {})}
    bar = tqdm(total=len(todo), unit="cell", desc=f"scoring {cfg.dataset}", disable=not cfg.progress,
               dynamic_ncols=True, smoothing=0.1)
    failed = Counter()

    def record(cell: int, rows: list) -> None:
        cache.put(cfg.seed, cfg.dataset, cell, rows)
        for proxy, _raw, err, *_seconds in rows:
            if err is not None:
                failed[proxy] += 1
        bar.update(1)
        if failed:
            bar.set_postfix_str("failed " + " ".join(f"{p}:{n}" for p, n in sorted(failed.items())), refresh=False)
        if on_result is not None:
            on_result(cell, rows)

    try:
        if cfg.workers <= 1:
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(1)  # as in a worker, so that values do not depend on the worker count
            try:
                for cell, need in todo:
                    record(cell, _score(ctx, cell, need))
            finally:
                torch.set_num_threads(previous)
        elif cfg.runner is not None:
            cfg.runner(todo, ctx, record)
        else:
            _run_pool(todo, ctx, cfg.workers, record)
    finally:
        bar.close()
    return len(todo)


def _run_pool(todo: list, ctx: dict, workers: int, record: Callable[[int, list], None]) -> None:
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(ctx, 1))
    pending: set = set()
    queue = iter(todo)
    try:
        for _ in range(2 * workers):  # a small window: an interruption leaves little queued
            item = next(queue, None)
            if item is None:
                break
            pending.add(ex.submit(_score_task, *item))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                record(*fut.result())
                item = next(queue, None)
                if item is not None:
                    pending.add(ex.submit(_score_task, *item))
    except BaseException:
        for fut in pending:
            fut.cancel()
        for proc in list(getattr(ex, "_processes", {}).values()):  # our own workers only
            if proc.is_alive():
                proc.terminate()
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


# --------------------------------------------------------------------------------------------------
# the whole command
# --------------------------------------------------------------------------------------------------
def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def accuracy(dataset: str, cells: Sequence[int]) -> np.ndarray:
    """The benchmark's test accuracy (percent) of ``cells`` on ``dataset``."""
    from tenas.bench._table import load_table

    column = DATASETS[dataset][0]
    return np.asarray(load_table()[1][column])[np.asarray(cells, dtype=int)]


def run_correlate(cfg: CorrelateConfig, on_result: Callable[[int, list], None] | None = None) -> dict[str, Any]:
    """Score, correlate, write ``correlations.{csv,json}`` and scatter plots to ``cfg.out``; returns the result."""
    from tenas.indicators.registry import get_proxy, resolve_proxies
    from tenas.correlate import report

    from tenas.spaces import get_space

    space = get_space(cfg.space)
    indexed = getattr(space, "indexed_benchmark", False)
    table = space.benchmark_table(cfg.dataset) if hasattr(space, "benchmark_table") else None
    if table is None:
        raise ValueError(f"space {cfg.space!r} has no benchmark table for dataset {cfg.dataset!r}"
                         + (f"; choose from {', '.join(DATASETS)}" if indexed else ""))
    archs, table_acc = table
    # a space whose benchmark rows are its own indices (NAS-Bench-201) scores cells by index, as its caches hold them
    space_ctx = None if indexed else {"space": space, "archs": list(archs),
                                      "num_classes": DATASETS.get(cfg.dataset, (None, 10))[1]}
    proxies = resolve_proxies(cfg.proxies)
    cfg.protocol.check_needs(proxies)
    ensembles = []
    for spec in (DEFAULT_ENSEMBLES if cfg.ensembles is None else cfg.ensembles):
        name, how, members = stats.parse_ensemble(spec)
        missing = [m for m in members if m not in proxies]
        if missing and cfg.ensembles is not None:
            raise ValueError(f"ensemble {name!r} needs proxies that are not scored: {', '.join(missing)}")
        if not missing:  # a default ensemble is reported when all its members are scored
            ensembles.append((name, how, members))
    cells = sample_cells(cfg.sample, cfg.seed, cfg.live_only, space, archs if space_ctx else None)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = load_inputs(cfg.dataset, cfg.data, cfg.seed, cfg.protocol, need_crops="regions" in proxies)
    t0 = time.time()
    load0 = os.getloadavg()
    with ScoreCache(out / CACHE_FILE) as cache:
        for p in proxies:
            cache.check_meta(f"protocol:{p}", json.dumps(cfg.protocol.relevant(p), sort_keys=True))
        cache.check_meta(f"data:{cfg.dataset}", dumps(inputs.source))
        if space_ctx is not None:
            cache.check_meta("space", dumps(cfg.space))
        n_scored = compute_missing(cache, cfg, cells, proxies, inputs, on_result=on_result, space_ctx=space_ctx)
        computed_rows = cache.written
        raw, errors, seconds, cpu = cache.table(cfg.seed, cfg.dataset, cells, proxies)
    wall = time.time() - t0
    acc = np.asarray(table_acc)[np.asarray(cells, dtype=int)]
    oriented = {p: raw[p] if get_proxy(p).higher_is_better else -raw[p] for p in proxies}

    rows: list[dict[str, Any]] = []

    def top(score: np.ndarray) -> dict[str, float]:  # the top of the ranking, what a search keeps
        return {"top1_acc": stats.top_accuracy(score, acc),
                "best_of_100": stats.expected_best_of(score, acc, min(100, len(acc)))}

    for p in proxies:
        r = {**stats.correlation(oriented[p], acc), **top(oriented[p])}
        errs = Counter(e for e in errors[p] if e is not None)
        rows.append({"name": p, "kind": "proxy", "higher_is_better": get_proxy(p).higher_is_better, **r,
                     "sec_per_cell": _mean(seconds[p]), "cpu_per_cell": _mean(cpu[p]),
                     "errors": dict(errs.most_common(5)), "paper": get_proxy(p).paper})
    combos: dict[str, np.ndarray] = {}
    if "ntk" in proxies and "regions" in proxies:
        combos["tenas"] = stats.tenas_combination(oriented["ntk"], oriented["regions"])
        rows.append({"name": "tenas", "kind": "combination", "members": ["ntk", "regions"],
                     "how": "rank(-kappa)+rank(R)", **stats.correlation(combos["tenas"], acc), **top(combos["tenas"])})
    for name, how, members in ensembles:
        combos[name] = stats.ensemble(oriented, members, how)
        rows.append({"name": name, "kind": "ensemble", "members": members, "how": how,
                     **stats.correlation(combos[name], acc), **top(combos[name])})

    result: dict[str, Any] = {
        "space": cfg.space,
        "benchmark": getattr(space, "benchmark_name", cfg.space),
        "dataset": cfg.dataset,
        "accuracy": DATASETS[cfg.dataset][0] if space_ctx is None else f"{cfg.dataset} test accuracy",
        "seed": cfg.seed,
        "sample": len(cells),
        "live_only": cfg.live_only,
        "data": inputs.source,
        "protocol": cfg.protocol.to_dict(),
        "protocol_text": cfg.protocol.describe(space),
        "workers": cfg.workers,
        "cells_scored_now": n_scored,
        "rows_computed_now": computed_rows,
        "wall_seconds": wall,
        "loadavg_start": list(load0),
        "loadavg_end": list(os.getloadavg()),
        "rows": rows,
        "sample_best_acc": float(np.nanmax(acc)),
        "oracle_best_of_100": stats.expected_best_of(acc, acc, min(100, len(acc))),
        "sample_mean_acc": float(np.nanmean(acc)),
        "cells": cells,
        "cell_archs": [archs[c] for c in cells] if space_ctx is not None else None,
    }
    if cfg.select_ensemble:
        result["selection"] = {"in_sample": True, "paths": {
            how: [{"members": m, "kendall_tau": t} for m, t in stats.select_ensemble(oriented, acc, proxies, how)]
            for how in ("logrank", "rank")}}
    report.write_outputs(result, out, oriented, combos, acc, plots=cfg.plots, raw=raw)
    return result
