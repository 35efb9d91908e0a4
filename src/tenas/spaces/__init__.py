"""Search spaces: each a plug-in that owns everything about itself (:mod:`tenas.spaces.base` is the contract).

:func:`get_space` selects a space by its registered name, or loads a user's own as ``module:Class`` or
``path/to/file.py:Class`` (:mod:`tenas.spaces.registry`). Built in: ``nb201`` (NAS-Bench-201), ``darts`` (the
DARTS cell space) and ``macro`` (NAS-Bench-Macro's MobileNet-style layers).
"""

from __future__ import annotations

from tenas.spaces.base import BaseSpace, Cost, SearchSpace, SpaceDefaults, SpaceError, check_space, cost_of
from tenas.spaces.registry import get_space, list_spaces, load_space_class, register_space, space_spec

#: The space the CLI searches, scores and correlates when none is named.
DEFAULT_SPACE = "nb201"

register_space("nb201", "tenas.spaces.nb201:NB201Space")
register_space("darts", "tenas.spaces.darts:DartsSearchSpace")
register_space("macro", "tenas.spaces.macro.space:MacroSpace")

__all__ = ["DEFAULT_SPACE", "BaseSpace", "Cost", "SearchSpace", "SpaceDefaults", "SpaceError", "check_space", "cost_of", "get_space",
           "list_spaces", "load_space_class", "register_space", "space_spec"]
