"""tenas: training-free neural architecture search (TE-NAS) for any ``torch.nn.Module``.

Public API (imported lazily so that ``import tenas`` stays cheap)::

    tenas.ntk_condition_number(model, inputs)   # kappa_N, trainability (lower is better)
    tenas.count_linear_regions(model, inputs)   # R_N, expressivity (higher is better)
    tenas.build_network(arch)                   # NAS-Bench-201 evaluation network
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build_network": "tenas.spaces.nb201",
    "parse_arch": "tenas.spaces.nb201",
    "format_arch": "tenas.spaces.nb201",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tenas' has no attribute {name!r}")
