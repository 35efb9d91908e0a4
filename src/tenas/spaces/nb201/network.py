"""The NAS-Bench-201 network: edges that average their alive ops, cells, and the macro network (stem, three
stages of cells with residual reductions, classifier); the benchmark network and TE-NAS' two supernets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from tenas.spaces.nb201.cells import NUM_EDGES, OP_NAMES, ArchLike, full_mask, to_cell
from tenas.spaces.nb201.fused import fused_cell, fusion_plan
from tenas.spaces.ops import OPS, ResNetBasicBlock


class Edge(nn.Module):
    """One edge: candidate ops by name; output = mean of the alive ops (zeros when only ``none`` is)."""

    def __init__(self, op_names: Sequence[str], C: int):
        super().__init__()
        self.op_names = tuple(op_names)
        self.ops = nn.ModuleDict({name: OPS[name](C, C, 1) for name in self.op_names})
        self.alive: tuple[str, ...] = self.op_names

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor | None:
        if weights is not None:  # every op, weighted (candidate batching: no data-dependent skipping)
            return _weighted_edge(self, x, weights)
        live = [name for name in self.alive if name != "none"]
        if not live:
            return None  # contributes zeros
        out = self.ops[live[0]](x)
        for name in live[1:]:
            out = out + self.ops[name](x)
        if len(self.alive) > 1:
            out = out * (1.0 / len(self.alive))
        return out


class Cell201(nn.Module):
    """A NAS-Bench-201 cell: node i = sum over j < i of edge(j -> i)(node j); output = node 3.

    The forward pass takes a fused path when it can (``fused`` True, the default): the same function,
    computed with far fewer ops, which is what makes the NTK of a supernet fast (see :mod:`tenas.spaces.nb201.fused`).
    It falls back to running every op module by module whenever a hook is registered on the cell's
    modules (so hooks such as the linear-region counter's see every ``nn.ReLU``), an op is not one of
    this space's standard ops, or BatchNorm layers of a group disagree in their settings.
    """

    #: Compute the cell with the fused path when possible; set False (on the class or an instance) to
    #: always run op by op.
    fused: bool = True

    def __init__(self, edge_ops: Sequence[Sequence[str]], C: int):
        super().__init__()
        self.edges = nn.ModuleList(Edge(ops, C) for ops in edge_ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        plan = fusion_plan(self) if self.fused and weights is None else None
        if plan is not None:
            return fused_cell(plan, x)
        nodes = [x]
        k = 0
        for i in range(1, 4):
            total = None
            for j in range(i):
                y = self.edges[k](nodes[j]) if weights is None else self.edges[k](nodes[j], weights[k])
                k += 1
                if y is not None:
                    total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[3]


def _weighted_edge(edge: Edge, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum over the edge's ops of ``weights[OP_NAMES.index(op)] * op(x)`` (``none`` contributes nothing)."""
    out = None
    for name in edge.op_names:
        if name == "none":
            continue
        y = edge.ops[name](x) * weights[OP_NAMES.index(name)]
        out = y if out is None else out + y
    return out if out is not None else torch.zeros_like(x)


def edge_weights(alive: np.ndarray) -> np.ndarray:
    """The op weights that make the weighted forward equal to the masked one (an edge averages its alive ops,
    ``none`` counted and weighted 0; see :mod:`tenas.spaces.weights`); same shape, float32."""
    from tenas.spaces.weights import mean_of_alive

    return mean_of_alive(alive, OP_NAMES.index("none"))


class TinyNetwork(nn.Module):
    """The NAS-Bench-201 macro network around cells whose edges carry the given candidate ops.

    ``depth`` > 0 keeps only the first ``depth`` layers (cells and residual blocks), as TE-NAS' thin
    network for linear regions does (``depth=1``: one cell). ``use_stem=False`` feeds the input straight
    into the first cell, which then must have ``C`` input channels.
    """

    def __init__(
        self,
        edge_ops: Sequence[Sequence[str]],
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        use_stem: bool = True,
        depth: int = -1,
    ):
        super().__init__()
        if len(edge_ops) != NUM_EDGES:
            raise ValueError(f"need candidate ops for {NUM_EDGES} edges, got {len(edge_ops)}")
        self.C, self.N, self.num_classes, self.use_stem, self.depth = C, N, num_classes, use_stem, depth
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)) if use_stem else None
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        layers: list[nn.Module] = []
        c_prev = C
        for index, (c, red) in enumerate(zip(channels, reductions)):
            if depth > 0 and index >= depth:
                break
            layers.append(ResNetBasicBlock(c_prev, c, 2) if red else Cell201(edge_ops, c))
            c_prev = c
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    # -- alive masks (supernet use) -------------------------------------------------------------
    def edges(self) -> list[list[Edge]]:
        """Per cell, its 6 edges."""
        return [list(c.edges) for c in self.cells if isinstance(c, Cell201)]

    def set_alive(self, alive: np.ndarray | Sequence[Sequence[bool]]) -> "TinyNetwork":
        """Set which ops are alive: a 6 x 5 boolean mask over (edge, :data:`OP_NAMES`). Returns self."""
        mask = np.asarray(alive, dtype=bool)
        if mask.shape != (NUM_EDGES, len(OP_NAMES)):
            raise ValueError(f"alive mask must have shape ({NUM_EDGES}, {len(OP_NAMES)}), got {mask.shape}")
        for cell_edges in self.edges():
            for e, edge in enumerate(cell_edges):
                names = tuple(OP_NAMES[k] for k in range(len(OP_NAMES)) if mask[e, k])
                missing = [n for n in names if n not in edge.op_names]
                if missing:
                    raise ValueError(f"edge {e} has no candidate op {missing}")
                edge.alive = names
        return self

    def forward(self, x: torch.Tensor, edge_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Logits; ``edge_weights`` (6 x 5 over (edge, :data:`OP_NAMES`)) runs every op weighted instead of the
        alive mask (see :func:`edge_weights`): the form candidate batching vmaps over."""
        feature = self.stem(x) if self.stem is not None else x
        for cell in self.cells:
            feature = cell(feature, edge_weights) if isinstance(cell, Cell201) and edge_weights is not None else cell(feature)
        out = self.lastact(feature)
        out = self.global_pooling(out).flatten(1)
        return self.classifier(out)


def build_network(arch: ArchLike, C: int = 16, N: int = 5, num_classes: int = 10) -> TinyNetwork:
    """The benchmark's evaluation network for a cell (string, index, or 6 op names)."""
    cell = to_cell(arch)
    return TinyNetwork([[op] for op in cell], C=C, N=N, num_classes=num_classes)


def supernet(alive: np.ndarray | None = None, C: int = 3, N: int = 1, num_classes: int = 10) -> TinyNetwork:
    """TE-NAS' NTK supernet: all ops on every edge, with stem; ``alive`` as in :meth:`TinyNetwork.set_alive`."""
    net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=C, N=N, num_classes=num_classes, use_stem=True)
    return net.set_alive(full_mask() if alive is None else alive)


def thin_supernet(alive: np.ndarray | None = None, C: int = 1, num_classes: int = 10) -> TinyNetwork:
    """TE-NAS' linear-region supernet: one cell at ``C`` channels (input has ``C`` channels), no stem."""
    net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=C, N=1, num_classes=num_classes, use_stem=False, depth=1)
    return net.set_alive(full_mask() if alive is None else alive)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (all of them, as the benchmark counts)."""
    return sum(p.numel() for p in model.parameters())
