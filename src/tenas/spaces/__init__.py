"""Search spaces: each module describes the edges, candidate ops, supernets and final networks.

:func:`get_space` selects a space by name (the pruner never imports a concrete space).
"""

from __future__ import annotations

import importlib
from typing import Any

#: name -> "module:Class" of the object implementing :class:`tenas.search.space.SearchSpace`.
SPACES = {
    "nb201": "tenas.spaces.nb201:NB201Space",
    "darts": "tenas.spaces.darts:DartsSearchSpace",
}


def get_space(name: str, **options: Any):
    """The search space registered under ``name`` (``nb201`` or ``darts``)."""
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; choose from {', '.join(SPACES)}")
    module, cls = SPACES[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)
