"""Pick where tasks run: ``make_pool("local" | "ray", workers, address)``."""

from __future__ import annotations

import importlib.util

BACKENDS = ("local", "ray")


def make_pool(backend: str = "local", workers: int | None = None, address: str | None = None,
              threads_per_worker: int = 1):
    """A LocalPool or a RayPool (enter it with ``with``); a missing ``ray`` is a one-line UserError."""
    from tenas.cli import UserError

    if backend == "local":
        if address:
            raise UserError("--address is for --backend ray")
        from tenas.parallel.local import LocalPool, default_workers

        return LocalPool(workers=workers or default_workers(), threads_per_worker=threads_per_worker)
    if backend == "ray":
        from tenas.parallel.ray import INSTALL_HINT

        if importlib.util.find_spec("ray") is None:  # not imported here: RayPool sets its environment first
            raise UserError(INSTALL_HINT)
        from tenas.parallel.ray import RayPool

        return RayPool(workers=workers, threads_per_worker=threads_per_worker, address=address)
    raise UserError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
