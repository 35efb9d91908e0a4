"""The NAS-Bench-201 search space (Dong & Yang, ICLR 2020).

A cell is a DAG of 4 nodes; each of its 6 edges ``j -> i`` (``j < i``) carries one of 5 ops. Cells are
written in the benchmark's own format ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (node 1, node 2, node 3;
``op~j`` is the op on the edge from node ``j``). Edge ``k`` below is the k-th ``op~j`` in that string.

The network: 3x3 conv stem + BN; three stages of ``N`` cells at ``C``, ``2C``, ``4C`` channels with a
stride-2 ResNet basic block between stages; BN-ReLU; global average pooling; a linear classifier.

The same module class serves as the evaluation network (one op per edge) and as the search supernet
(all candidate ops on every edge, with an ``alive`` mask). An edge's output is the mean of its alive ops,
which is what the TE-NAS supernet computes (softmax over architecture weights that are 0 for alive and
-inf for pruned ops), so a supernet with one op left per edge *is* the evaluation network.

Modules: :mod:`~tenas.spaces.nb201.cells` (strings, indices, masks), :mod:`~tenas.spaces.nb201.network`
(the network and supernets), :mod:`~tenas.spaces.nb201.fused` (the fused cell forward),
:mod:`~tenas.spaces.nb201.space` (the pruner's adapter). Their public names are re-exported here.
"""

from tenas.spaces.nb201.cells import (EDGES, EXPECTED_FORM, NUM_CELLS, NUM_EDGES, OP_NAMES, ArchLike, Cell, arch_to_index,
                                     format_arch, full_mask, genotype, has_dead_op, index_to_arch, parse_arch, to_cell)
from tenas.spaces.nb201.network import (Cell201, Edge, TinyNetwork, build_network, count_parameters, edge_weights,
                                       supernet, thin_supernet)
from tenas.spaces.nb201.space import NB201Space

__all__ = [
    "EDGES", "EXPECTED_FORM", "NUM_CELLS", "NUM_EDGES", "OP_NAMES", "ArchLike", "Cell", "Cell201", "Edge", "NB201Space",
    "TinyNetwork", "arch_to_index", "build_network", "count_parameters", "edge_weights", "format_arch", "full_mask",
    "genotype", "has_dead_op", "index_to_arch", "parse_arch", "supernet", "thin_supernet", "to_cell",
]
