"""Where independent tasks run on Ray: a cluster (``address``) or a Ray instance started here.

:class:`RayPool` has the interface of :class:`tenas.parallel.local.LocalPool`: a context manager whose
``run(fn, tasks)`` yields ``(task index, result)`` as tasks finish. Each task is a Ray remote function
with ``num_cpus=1`` and ``max_retries=3`` (Ray re-runs a task whose worker process died), and sets torch
to ``threads_per_worker`` threads before it runs, as a LocalPool worker does -- so the numbers are
bitwise those of the local backend: tasks carry their inputs and seeds, nothing depends on the worker.

A Ray instance started here (no ``address``) has ``workers`` CPUs, no dashboard, no usage reporting,
listens on loopback only and keeps its session files in a temporary folder that is removed on exit. An
instance that is already running in this process (``ray.init`` called by the caller) is used as it is
and left running.

``ray`` is an optional dependency (``pip install "tenas[ray]"``); this module imports without it and
:class:`RayUnavailable` says how to install it when a pool is entered.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

INSTALL_HINT = 'the Ray backend needs the ray package: pip install "tenas[ray]"'


class RayUnavailable(ImportError):
    """``ray`` is not installed."""


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(INSTALL_HINT) from exc
    return ray


class _LocalSettings:
    """For a Ray instance started here: loopback addresses only, no usage statistics; undone on exit."""

    def __enter__(self) -> "_LocalSettings":
        self._env = os.environ.get("RAY_USAGE_STATS_ENABLED")
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        try:  # where ray decides the node's address: with clusters off, it is 127.0.0.1
            from ray._private import ray_constants
        except ImportError:  # pragma: no cover - another ray layout: its default address
            self._constants = None
        else:
            self._constants = ray_constants
            self._cluster = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
            ray_constants.ENABLE_RAY_CLUSTER = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._env is None:
            os.environ.pop("RAY_USAGE_STATS_ENABLED", None)
        else:
            os.environ["RAY_USAGE_STATS_ENABLED"] = self._env
        if self._constants is not None:
            self._constants.ENABLE_RAY_CLUSTER = self._cluster


# --------------------------------------------------------------------------------------------------
# inside a Ray worker process
# --------------------------------------------------------------------------------------------------
_PREPARED = False


def _prepare_worker(threads: int) -> None:
    """What LocalPool's worker initializer does, once per worker process (threads: every task)."""
    global _PREPARED
    import torch

    torch.set_num_threads(threads)
    if _PREPARED:
        return
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started in this process
        pass
    try:
        from tenas._alloc import tune_allocator
    except ImportError:  # pragma: no cover - the allocator tuning is optional
        pass
    else:
        tune_allocator()
    _PREPARED = True


def _writable(task: Any) -> Any:
    """Ray hands numpy arrays over read-only (zero-copy from its object store); a LocalPool task's are
    private copies. Copy those at the top level of a dict/list/tuple task so that fn sees the same."""
    import numpy as np

    def own(v: Any) -> Any:
        return v.copy() if isinstance(v, np.ndarray) and not v.flags.writeable else v

    if isinstance(task, dict):
        return {k: own(v) for k, v in task.items()}
    if type(task) in (list, tuple):
        return type(task)(own(v) for v in task)
    return own(task)


def _call(fn: Callable[[Any], Any], threads: int, task: Any) -> Any:
    _prepare_worker(threads)
    return fn(_writable(task))


# --------------------------------------------------------------------------------------------------
# the pool
# --------------------------------------------------------------------------------------------------
class RayPool:
    """Runs ``fn(task)`` for many tasks as Ray tasks (one CPU each), results in completion order.

    ``workers``: CPUs of the Ray instance started here (default: the cores this process may use); with
    ``address`` (or an instance already running) the cluster's CPUs are used and ``workers`` only sets
    how many tasks are kept in flight (``2 * workers``; default: the cluster's CPU count).
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1, address: str | None = None,
                 max_retries: int = 3, max_in_flight: int | None = None):
        self.workers = None if workers is None else max(1, int(workers))
        self.threads_per_worker = int(threads_per_worker)
        self.address = address or None
        self.max_retries = int(max_retries)
        self.max_in_flight = max_in_flight
        self._ray = None
        self._remote = None
        self._owns = False
        self._temp_dir: str | None = None

    # -- lifetime -----------------------------------------------------------------------------------
    def __enter__(self) -> "RayPool":
        ray = _import_ray()
        if not ray.is_initialized():
            if self.address is not None:
                ray.init(address=self.address, configure_logging=False, log_to_driver=True)
            else:
                self._start_local(ray)
            self._owns = True
        if self.workers is None:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_call)
        return self

    def _start_local(self, ray, attempts: int = 2) -> None:
        """``ray.init`` a 1-node instance here. Ray gives its raylet 30 s to register, which a busy machine
        can miss: then it is shut down and started once more before giving up with one clear line."""
        from tenas.cli import UserError
        from tenas.parallel.local import default_workers

        for attempt in range(1, attempts + 1):
            self._temp_dir = tempfile.mkdtemp(prefix="tenas-ray-")
            try:
                with _LocalSettings():
                    ray.init(num_cpus=self.workers or default_workers(), include_dashboard=False,
                             _temp_dir=self._temp_dir, configure_logging=False, log_to_driver=True)
                return
            except Exception as exc:
                ray.shutdown()
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None
                if attempt == attempts:
                    raise UserError(f"Ray did not start here ({attempts} tries; a busy machine?): {exc} -- "
                                    "retry, or start one (`ray start --head`) and pass --address") from exc

    def __exit__(self, *exc: object) -> None:
        if self._owns and self._ray is not None:
            self._ray.shutdown()
        self._owns = False
        self._ray = self._remote = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    # -- work ---------------------------------------------------------------------------------------
    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(task index, result)`` as tasks finish; a task's exception is raised here."""
        if self._remote is None:
            raise RuntimeError("RayPool.run needs the pool entered: `with RayPool(...) as pool:`")
        ray, remote = self._ray, self._remote
        window = self.max_in_flight or 2 * (self.workers or 1)
        queue = iter(enumerate(tasks))
        pending: dict[Any, int] = {}

        def submit() -> bool:
            item = next(queue, None)
            if item is None:
                return False
            pending[remote.remote(fn, self.threads_per_worker, item[1])] = item[0]
            return True

        # Stopping early (the consumer stops, a task fails) leaves at most ``window`` tasks to finish on
        # their own, as LocalPool lets its running tasks finish: no more are submitted. Not cancelled:
        # Ray interrupts a running task with KeyboardInterrupt, which can leave a half-imported torch
        # in that worker and break every later task there.
        while len(pending) < window and submit():
            pass
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                result = ray.get(ref)
                submit()
                yield i, result


# --------------------------------------------------------------------------------------------------
# tenas correlate on Ray
# --------------------------------------------------------------------------------------------------
_CTX_CACHE: dict[str, Any] = {}


def _score_cell_task(task: tuple) -> tuple[int, list]:
    """One correlate cell in a Ray worker: ``(ctx_ref, cell, proxies) -> (cell, rows)``."""
    ctx_ref, cell, proxies = task
    key = ctx_ref.hex()
    if key not in _CTX_CACHE:  # the shared inputs are fetched once per worker process
        import ray

        _CTX_CACHE.clear()
        _CTX_CACHE[key] = ray.get(ctx_ref)
    from tenas.correlate.run import _score

    return cell, _score(_CTX_CACHE[key], cell, proxies)


def run_cells(pool: RayPool, todo: list, ctx: dict, record: Callable[[int, list], None]) -> None:
    """Score correlate's ``todo`` ``[(cell, proxies)]`` on ``pool``; ``record(cell, rows)`` as each arrives.

    ``record`` is correlate's, which commits the cell to the SQLite cache, so a driver killed mid-run
    resumes from the cells that arrived. The inputs in ``ctx`` go to the object store once.
    """
    ctx_ref = pool._ray.put(ctx)
    for _, (cell, rows) in pool.run(_score_cell_task, [(ctx_ref, cell, need) for cell, need in todo]):
        record(cell, rows)
