"""TE-NAS' two training-free indicators for any ``torch.nn.Module``, and their repeated form.

* :func:`ntk_condition_number` -- kappa_N, the condition number of the empirical NTK (trainability; lower is
  better); :func:`ntk_matrix` and :func:`condition_number` are its two halves.
* :func:`count_linear_regions` -- R_N, the number of distinct ReLU activation patterns (expressivity; higher
  is better).
* :func:`kaiming_init_` and :func:`repeat_indicator` -- TE-NAS' re-initialisation and the mean over repeats.
* :func:`random_crops` -- TE-NAS' region inputs (random single-channel 3x3 crops of real images).

Names are imported lazily (``import tenas.indicators`` does not import torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ntk_condition_number": "tenas.indicators.ntk",
    "ntk_matrix": "tenas.indicators.ntk",
    "condition_number": "tenas.indicators.ntk",
    "count_linear_regions": "tenas.indicators.regions",
    "activation_patterns": "tenas.indicators.regions",
    "kaiming_init_": "tenas.indicators.init",
    "repeat_indicator": "tenas.indicators.init",
    "random_crops": "tenas.indicators.crops",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tenas.indicators' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
