"""One search, end to end, from code: ``tenas.run_search(space=MySpace(), data=..., budget=...)``.

:func:`run_search` is what ``tenas search`` runs (without its files): the TE-NAS pruning over any space of
:mod:`tenas.spaces`, then the objective's local search (if any), then kappa_N and R_N along the search path. It
returns the same dict ``tenas search`` writes as ``result.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["run_search", "search_result", "NUM_CLASSES"]

#: classes of the named datasets (a folder's come from the folder)
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120, "imagenet": 1000}


def run_search(space: Any = None, data: Any = None, *, dataset: str | None = None, budget: dict | None = None,
               seed: int = 0, objective: str = "tenas", protocol: str = "paper", repeats: int = 3,
               batch_size: int | None = None, prune_number: int | None = None, workers: int = 1,
               device: str = "cpu", local_search: str = "", progress: Callable | None = None) -> dict:
    """Search ``space`` (a space object, a registered name, ``module:Class`` or ``file.py:Class``; default the
    default space) on ``data`` (an ``.npz`` / dataset folder path, a loaded dataset, or None: the embedded CIFAR-10
    sample) under ``budget`` (``{"params": "0.5M", "flops": "60M"}``, either optional); ``local_search``: stages as
    ``tenas search --local-search`` takes them. Returns result.json's dict."""
    from tenas.data import load_dataset
    from tenas.parallel.backends import make_pool
    from tenas.search.budget import parse_amount
    from tenas.search.prune import SearchConfig
    from tenas.spaces import DEFAULT_SPACE, check_space, get_space

    if space is None or isinstance(space, str):
        space = get_space(space or DEFAULT_SPACE)
    check_space(space)
    dataset = dataset or space.defaults.datasets[0]
    ds = data if hasattr(data, "x") and hasattr(data, "y") else load_dataset(dataset, data, split="train")
    budget = dict(budget or {})
    unknown = set(budget) - {"params", "flops"}
    if unknown:
        raise ValueError(f"budget keys are 'params' and 'flops', got {sorted(unknown)}")
    num_classes = int(getattr(ds, "num_classes", 0) or NUM_CLASSES.get(dataset, 0) or int(np.max(ds.y)) + 1)
    config = SearchConfig(
        space=_spec(space), dataset=dataset, seed=seed, repeats=repeats,
        batch_size=batch_size or space.defaults.batch_for(dataset),
        prune_number=prune_number or space.defaults.prune_for(dataset), protocol=protocol, objective=objective,
        local_search=local_search,
        num_classes=num_classes,
        max_params=parse_amount(budget["params"], "params budget") if budget.get("params") is not None else None,
        max_flops=parse_amount(budget["flops"], "FLOPs budget") if budget.get("flops") is not None else None,
    )
    with make_pool("local", workers) as pool:
        return search_result(space, ds, config, pool, device=device, progress=progress, data=data)


def _spec(space) -> str:
    from tenas.spaces import space_spec

    return space_spec(space)


def search_result(space, dataset, config, pool, *, device: str = "cpu", candidate_batch: int = 1, state=None,
                  on_round=None, progress=None, data=None, on_local=None) -> dict:
    """Prune (or finish a resumed ``state``), run the objective's local search under the budget, measure the
    search path; the result.json dict (without the CLI's own keys)."""
    from tenas.search.local import local_search
    from tenas.search.objective import parse_local, parse_objective
    from tenas.search.prune import budget_guard, evaluate_stages, run_search as prune, search_stages
    from tenas.spaces.base import cost_of

    state = prune(space, dataset, config, pool, state=state, on_round=on_round, progress=progress, device=device,
                  candidate_batch=candidate_batch)
    arch = space.canonical(space.genotype(np.asarray(state.alive, dtype=bool)))  # one string per equivalence class
    objective = parse_objective(config.objective)
    stages = parse_local(config.local_search) if config.local_search else objective.local
    guard = budget_guard(space, config)
    local = None
    if stages:
        if on_local is not None:
            on_local(arch, stages)
        local = local_search(arch, config.dataset, data if isinstance(data, str) else None, config.seed,
                             stages, space=space, num_classes=config.num_classes,
                             allowed=guard.allows if guard is not None else None)
    path = search_stages(state)
    if local is not None and local.arch != arch:
        arch = local.arch
        path.append(("after local step", space.to_mask(arch)))
    stages = evaluate_stages(space, dataset, config, pool, path, device=device, candidate_batch=candidate_batch)
    cost = cost_of(space, arch, config.num_classes, config.dataset)
    if guard is not None and not guard.budget.allows(cost):  # never silently over
        raise RuntimeError(f"the search ended at {arch} ({cost}), over the budget {guard.budget.describe()}")
    return {
        "arch": arch,
        "space": config.space,
        "benchmark": space.benchmark(arch, config.dataset) if hasattr(space, "benchmark") else None,
        "cost": cost.to_dict() if cost is not None else None,
        "budget": {**guard.budget.to_dict(), **guard.summary()} if guard is not None else None,
        "seconds": state.seconds + (local.seconds if local is not None else 0.0),
        "local_step": local.to_dict() if local is not None else None,
        "final": stages[-1],
        "stages": stages,
        "rounds": state.rounds,
        "config": dataclasses.asdict(config),
        "timing": {
            "search_seconds": state.seconds,
            "local_step_seconds": local.seconds if local is not None else 0.0,
            "kappa_worker_seconds": state.t_kappa,
            "regions_worker_seconds": state.t_regions,
        },
    }
