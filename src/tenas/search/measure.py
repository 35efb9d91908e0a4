"""One measurement task, run in a worker: kappa_N, R_N (and any extra proxies) of a list of alive masks of a
space's supernets, with the task's weights, NTK batch and crops. Tasks are plain dicts (picklable, backend-free)."""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["score_masks"]

#: ``SearchConfig.kappa`` -> the ``bn`` mode of :func:`tenas.indicators.ntk.ntk_condition_number`.
_KAPPA_BN = {"exact": "batch", "fixed-bn": "fixed"}


@functools.lru_cache(maxsize=2)
def _networks(space_name: str, options: tuple, num_classes: int) -> tuple[torch.nn.Module, torch.nn.Module, bool]:
    """The NTK and region supernets of a space, built once per process (every task re-draws all weights),
    and whether its CPU measurements use oneDNN."""
    from tenas.spaces import get_space

    space = get_space(space_name, **dict(options))
    alive = space.initial_alive()
    return space.ntk_network(alive, num_classes), space.region_network(alive), getattr(space, "cpu_onednn", True)


@contextlib.contextmanager
def _onednn(enabled: bool, device: torch.device) -> Iterator[None]:
    """oneDNN convolutions on or off (CPU only) for the measurements inside; restored after."""
    if enabled or device.type != "cpu" or not torch.backends.mkldnn.is_available():
        yield
        return
    with warnings.catch_warnings():  # set_flags warns about TF32 on oneDNN when it restores the flags
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def score_masks(task: dict) -> dict:
    """kappa_N and R_N (and any extra proxies) for each mask in ``task["masks"]`` with the task's weights and inputs.

    A task is a plain dict (picklable, backend-independent): space name/options, num_classes, the weights
    (``ntk_init`` / ``region_init``: kind and seed, see :func:`tenas.indicators.init.init_weights_`), the NTK
    batch (and its ``labels``), the region crops, the masks, the extra ``proxies``, device, and
    ``candidate_batch``: above 1, the masks are measured that many at a time in vmapped passes
    (:mod:`tenas.search.batched`; equal to one at a time within float32 rounding).
    """
    from tenas.indicators.init import init_weights_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.indicators.regions import count_linear_regions

    if "parts" in task:
        return _score_parts(task)
    if int(task.get("candidate_batch", 1)) > 1 and len(task["masks"]) > 1 and task.get("kappa", "exact") == "exact":
        one = {k: task[k] for k in ("batch", "crops", "region_init", "masks", "labels") if k in task}
        return _score_parts({**task, "parts": [one]})  # one group: the same vmapped passes
    device = torch.device(task.get("device", "cpu"))
    options = tuple(sorted(task.get("space_options", {}).items()))
    ntk_net, region_net, onednn = _networks(task["space"], options, task["num_classes"])
    init_weights_(ntk_net, *task["ntk_init"], mode="fan_out")
    init_weights_(region_net, *task["region_init"], mode="fan_in")
    ntk_net.to(device)
    region_net.to(device)
    inputs = torch.as_tensor(task["batch"]).to(device)
    crops = torch.as_tensor(task["crops"]).to(device)
    proxies = list(task.get("proxies", ()))
    labels = torch.as_tensor(task["labels"]).to(device) if proxies else None
    kappas, regions, extra = [], [], {name: [] for name in proxies}
    t_kappa = t_regions = 0.0
    for mask in task["masks"]:
        mask = np.asarray(mask, dtype=bool)
        t0 = time.perf_counter()
        ntk_net.set_alive(mask)
        with _onednn(onednn, device):
            kappas.append(float(ntk_condition_number(ntk_net, inputs, bn=_KAPPA_BN[task.get("kappa", "exact")])))
        t1 = time.perf_counter()
        region_net.set_alive(mask)
        regions.append(float(count_linear_regions(region_net, crops, batch_size=task["region_batch"])))
        t2 = time.perf_counter()
        t_kappa += t1 - t0
        t_regions += t2 - t1
        for name in proxies:
            extra[name].append(_proxy_value(name, _alive_copy(ntk_net), inputs, labels))
    return {"kappa": kappas, "regions": regions, "extra": extra, "t_kappa": t_kappa, "t_regions": t_regions}


def _score_parts(task: dict) -> dict:
    """A task of several groups (``parts``: each its own batch, crops, region weights and masks; one NTK weight
    draw for all), every mask of every part measured in vmapped passes of ``candidate_batch``: results in
    part order, then mask order."""
    from tenas.indicators.init import init_weights_
    from tenas.search.batched import batched_kappas, batched_regions
    from tenas.spaces import get_space

    device = torch.device(task.get("device", "cpu"))
    options = tuple(sorted(task.get("space_options", {}).items()))
    ntk_net, region_net, onednn = _networks(task["space"], options, task["num_classes"])
    space = get_space(task["space"], **dict(options))
    init_weights_(ntk_net, *task["ntk_init"], mode="fan_out")
    ntk_net.to(device)
    region_net.to(device)
    parts = task["parts"]
    masks = [np.asarray(m, dtype=bool) for p in parts for m in p["masks"]]
    which = [i for i, p in enumerate(parts) for _ in p["masks"]]
    x = torch.stack([torch.as_tensor(parts[i]["batch"]) for i in which]).to(device)
    crops = torch.stack([torch.as_tensor(parts[i]["crops"]) for i in which]).to(device)
    drawn = []
    for p in parts:
        init_weights_(region_net, *p["region_init"], mode="fan_in")
        drawn.append({n: q.detach().clone() for n, q in region_net.named_parameters()})
    params = {n: torch.stack([drawn[i][n] for i in which]) for n in drawn[0]}
    batch = int(task.get("candidate_batch", len(masks)))
    t0 = time.perf_counter()
    with _onednn(onednn, device):
        kappas = batched_kappas(space, ntk_net, x, masks, chunk=batch, row_chunk=_row_chunk(task, device),
                                per_mask_inputs=True)
    t1 = time.perf_counter()
    regions = batched_regions(space, region_net, crops, masks, batch_size=task["region_batch"], chunk=batch,
                              per_mask_crops=True, per_mask_params=params)
    t2 = time.perf_counter()
    proxies = list(task.get("proxies", ()))
    extra = {name: [] for name in proxies}
    for mask, i in zip(masks, which) if proxies else ():
        ntk_net.set_alive(mask)
        inputs = torch.as_tensor(parts[i]["batch"]).to(device)
        labels = torch.as_tensor(parts[i]["labels"]).to(device)
        for name in proxies:
            extra[name].append(_proxy_value(name, _alive_copy(ntk_net), inputs, labels))
    return {"kappa": kappas, "regions": regions, "extra": extra, "t_kappa": t1 - t0, "t_regions": t2 - t1}


def _row_chunk(task: dict, device: torch.device) -> int | None:
    """Rows of J per vmapped backward: the task's, else 8 on CPU (its memory is small; the pass is float64 there)
    and all on other devices (halved on out-of-memory)."""
    return task.get("row_chunk") or (8 if device.type == "cpu" else None)


def _alive_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of a masked supernet without its switched-off ops, so that proxies that read the parameters
    (params, synflow, ...) see the candidate network only."""
    import copy

    net = copy.deepcopy(model)
    for m in net.modules():
        ops, alive = getattr(m, "ops", None), getattr(m, "alive", None)
        if isinstance(ops, torch.nn.ModuleDict) and isinstance(alive, tuple):
            for name in [n for n in ops if n not in alive]:
                del ops[name]
    return net


def _proxy_value(name: str, model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> float:
    """A registered proxy on the masked NTK supernet (a copy: proxies may change weights); NaN if it fails."""
    from tenas.indicators.registry import compute_proxy

    try:
        return float(compute_proxy(name, model, inputs, labels).raw)
    except Exception:  # a failed proxy is a defined value, never an aborted search
        return float("nan")
