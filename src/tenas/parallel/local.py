"""Where independent tasks run on one machine: in this process, or in a pool of worker processes.

Workers are started with ``spawn`` (safe with torch's thread pools), each limited to
``threads_per_worker`` torch threads so that workers don't oversubscribe the cores, and with the
allocator tuned (:func:`tenas._alloc.tune_allocator`) as the main process is. Results never depend on
which worker ran a task: tasks carry everything they need (inputs, seeds).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any


def default_workers() -> int:
    """Worker processes to use by default: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    from tenas._alloc import tune_allocator

    tune_allocator()


class LocalPool:
    """Runs ``fn(task)`` for many tasks; ``workers <= 1`` runs them here, in order."""

    def __init__(self, workers: int = 1, threads_per_worker: int = 1):
        self.workers = max(1, int(workers))
        self.threads_per_worker = threads_per_worker
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalPool":
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.threads_per_worker,),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(task index, result)`` as tasks finish (completion order when parallel)."""
        tasks = list(tasks)
        if self._executor is None:
            import torch

            # same thread count as a worker, so that results are bitwise those of any worker count
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads_per_worker)
            try:
                for i, task in enumerate(tasks):
                    yield i, fn(task)
            finally:
                torch.set_num_threads(previous)
            return
        pending: dict[Future, int] = {self._executor.submit(fn, t): i for i, t in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                yield i, fut.result()
