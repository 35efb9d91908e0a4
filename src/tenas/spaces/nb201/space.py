"""NAS-Bench-201 as the pruner sees it (:class:`tenas.search.space.SearchSpace`): flattened masks in, networks out."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tenas.spaces.nb201.cells import EDGES, NUM_EDGES, OP_NAMES, full_mask, genotype
from tenas.spaces.nb201.network import TinyNetwork, edge_weights


class _MaskAdapter(nn.Module):
    """Wraps a TinyNetwork so that it takes the pruner's (1, 6, 5) masks."""

    def __init__(self, net: TinyNetwork):
        super().__init__()
        self.net = net

    def set_alive(self, alive: np.ndarray) -> "_MaskAdapter":
        self.net.set_alive(np.asarray(alive, dtype=bool).reshape(NUM_EDGES, len(OP_NAMES)))
        return self

    def forward(self, x: torch.Tensor, edge_weights: torch.Tensor | None = None) -> torch.Tensor:
        if edge_weights is None:
            return self.net(x)
        return self.net(x, edge_weights.reshape(NUM_EDGES, len(OP_NAMES)))

    def op_of_relu(self) -> dict[int, tuple[int, int]]:
        """id of every ``nn.ReLU`` inside an edge op -> its op's index in the pruner's flattened (1, 6, 5) mask."""
        found = {}
        for cell_edges in self.net.edges():
            for e, edge in enumerate(cell_edges):
                for name, op in edge.ops.items():
                    for m in op.modules():
                        if isinstance(m, nn.ReLU):
                            found[id(m)] = e * len(OP_NAMES) + OP_NAMES.index(name)
        return found


class NB201Space:
    """NAS-Bench-201 for the TE-NAS pruner: NTK supernet C=3, N=1 with stem; thin net C=1, one cell."""

    name = "nb201"
    op_names = OP_NAMES
    cell_types = ("normal",)
    num_edges = NUM_EDGES
    region_input_channels = 1

    def __init__(self, C: int = 3, N: int = 1, thin_C: int = 1):
        self.C, self.N, self.thin_C = C, N, thin_C

    def initial_alive(self) -> np.ndarray:
        return full_mask(include_none=False)[None]

    def ntk_network(self, alive: np.ndarray, num_classes: int) -> nn.Module:
        net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=self.C, N=self.N, num_classes=num_classes, use_stem=True)
        return _MaskAdapter(net).set_alive(alive)

    def region_network(self, alive: np.ndarray) -> nn.Module:
        net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=self.thin_C, N=1, num_classes=10, use_stem=False, depth=1)
        return _MaskAdapter(net).set_alive(alive)

    def genotype(self, alive: np.ndarray) -> str:
        return genotype(np.asarray(alive, dtype=bool).reshape(NUM_EDGES, len(OP_NAMES)))

    def edge_weights(self, alive: np.ndarray) -> np.ndarray:
        """Masks (..., 1, 6, 5) -> the op weights of the weighted forward (see :func:`edge_weights`)."""
        return edge_weights(alive)

    def edge_label(self, cell_type: int, edge: int) -> str:
        to, frm = EDGES[edge]
        return f"{to}<-{frm}"

    def edge_groups(self) -> None:
        return None
