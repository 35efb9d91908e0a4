"""tenas: training-free neural architecture search (TE-NAS) for any ``torch.nn.Module``.

Public API (imported lazily so that ``import tenas`` stays cheap)::

    tenas.ntk_condition_number(model, inputs)   # kappa_N, trainability (lower is better)
    tenas.count_linear_regions(model, inputs)   # R_N, expressivity (higher is better)
    tenas.build_network(arch)                   # NAS-Bench-201 evaluation network
    tenas.lookup(arch)                          # NAS-Bench-201 benchmark answer for a cell
    tenas.get_proxy("synflow")                  # any registered zero-cost proxy
    tenas.run_search(space="macro", budget={"flops": "60M"})  # a whole search (any space, your own too)
    tenas.load_trained("runs/train-...")        # a network tenas train wrote, normalisation attached
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ntk_condition_number": "tenas.indicators.ntk",
    "ntk_matrix": "tenas.indicators.ntk",
    "count_linear_regions": "tenas.indicators.regions",
    "kaiming_init_": "tenas.indicators.init",
    "repeat_indicator": "tenas.indicators.init",
    "random_crops": "tenas.indicators.crops",
    "get_proxy": "tenas.indicators.registry",
    "list_proxies": "tenas.indicators.registry",
    "lookup": "tenas.bench.nb201",
    "load_dataset": "tenas.data",
    "load_trained": "tenas.train.export",
    "get_space": "tenas.spaces",
    "list_spaces": "tenas.spaces",
    "run_search": "tenas.search.api",
    "build_network": "tenas.spaces.nb201",
    "parse_arch": "tenas.spaces.nb201",
    "format_arch": "tenas.spaces.nb201",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tenas' has no attribute {name!r}")
