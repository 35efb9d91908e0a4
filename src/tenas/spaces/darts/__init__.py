"""The DARTS search space (Liu, Simonyan & Yang, ICLR 2019) as a tenas plug-in, in the original DARTS code's split:

- :mod:`~tenas.spaces.darts.ops`: the operations as a small table of constructors;
- :mod:`~tenas.spaces.darts.network`: cells, evaluation networks and TE-NAS' masked supernets;
- :mod:`~tenas.spaces.darts.costs`: parameters and FLOPs of the evaluation networks (budgets);
- :mod:`~tenas.spaces.darts.space`: :class:`DartsSearchSpace`, what the pruner and the CLI see;
- the genotypes themselves (parsing, published cells by name) are :mod:`tenas.spaces.genotypes`.
"""

from tenas.spaces.darts.network import *  # noqa: F401,F403  (the network's public names)
from tenas.spaces.darts.network import __all__ as _network_all
from tenas.spaces.darts.network import _cell_edge_ops  # noqa: F401  (tests build cells from pairs)
from tenas.spaces.darts.space import DartsSearchSpace

__all__ = [*_network_all, "DartsSearchSpace"]
