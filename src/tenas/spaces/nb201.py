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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Union

import numpy as np
import torch
from torch import nn

from tenas.spaces.ops import OPS, ResNetBasicBlock

OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges in string order as (to_node, from_node).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_CELLS = len(OP_NAMES) ** NUM_EDGES  # 15,625
EXPECTED_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|  with op in " + ", ".join(OP_NAMES)

#: A cell: the op name on each of the 6 edges, in string order.
Cell = tuple[str, ...]
ArchLike = Union[str, int, Sequence[str]]


# --------------------------------------------------------------------------------------------------
# cell strings and indices
# --------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"^([a-z0-9_]+)~(\d+)$")


def parse_arch(arch: str) -> Cell:
    """Parse a cell string into its 6 op names (edge order); ``ValueError`` says what is wrong."""
    if not isinstance(arch, str):
        raise ValueError(f"a NAS-Bench-201 cell must be a string, got {type(arch).__name__}; expected {EXPECTED_FORM}")
    text = arch.strip()
    nodes = text.split("+")
    if len(nodes) != 3:
        raise ValueError(f"cell {arch!r} has {len(nodes)} node groups separated by '+', expected 3: {EXPECTED_FORM}")
    ops: list[str] = []
    for i, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ValueError(f"node {i} group {group!r} of {arch!r} must start and end with '|': {EXPECTED_FORM}")
        tokens = group[1:-1].split("|")
        if len(tokens) != i:
            raise ValueError(f"node {i} of {arch!r} has {len(tokens)} inputs, expected {i}: {EXPECTED_FORM}")
        for j, token in enumerate(tokens):
            m = _TOKEN.match(token)
            if not m:
                raise ValueError(f"token {token!r} in {arch!r} is not of the form op~j: {EXPECTED_FORM}")
            name, src = m.group(1), int(m.group(2))
            if name not in OP_NAMES:
                raise ValueError(f"unknown op {name!r} in {arch!r}; expected {EXPECTED_FORM}")
            if src != j:
                raise ValueError(f"token {token!r} of node {i} in {arch!r} should read from node {j} (~{j}): {EXPECTED_FORM}")
            ops.append(name)
    return tuple(ops)


def format_arch(ops: Sequence[str]) -> str:
    """The benchmark's string for a cell given as 6 op names in edge order."""
    ops = tuple(ops)
    if len(ops) != NUM_EDGES or any(op not in OP_NAMES for op in ops):
        raise ValueError(f"a cell needs {NUM_EDGES} ops from {OP_NAMES}, got {ops!r}")
    groups, k = [], 0
    for i in range(1, 4):
        groups.append("|" + "|".join(f"{ops[k + j]}~{j}" for j in range(i)) + "|")
        k += i
    return "+".join(groups)


@functools.lru_cache(maxsize=1)
def _index_lookup() -> dict[str, int]:
    from tenas.bench._table import load_table

    return {a: i for i, a in enumerate(load_table()[0])}


def arch_to_index(arch: ArchLike) -> int:
    """The benchmark index (0..15624) of a cell (string or op names)."""
    cell = to_cell(arch)
    return _index_lookup()[format_arch(cell)]


def index_to_arch(index: int) -> str:
    """The cell string of a benchmark index."""
    from tenas.bench._table import load_table

    archs = load_table()[0]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= int(index) < len(archs):
        raise ValueError(f"NAS-Bench-201 index must be an integer in 0..{len(archs) - 1}, got {index!r}")
    return archs[int(index)]


def to_cell(arch: ArchLike) -> Cell:
    """Normalise a cell string, a benchmark index, or a sequence of 6 op names into a :data:`Cell`."""
    if isinstance(arch, str):
        s = arch.strip()
        if s.isdigit():
            return parse_arch(index_to_arch(int(s)))
        return parse_arch(s)
    if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
        return parse_arch(index_to_arch(int(arch)))
    ops = tuple(arch)
    format_arch(ops)  # validates
    return ops


# --------------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------------
class Edge(nn.Module):
    """One edge: candidate ops by name; output = mean of the alive ops (zeros when only ``none`` is)."""

    def __init__(self, op_names: Sequence[str], C: int):
        super().__init__()
        self.op_names = tuple(op_names)
        self.ops = nn.ModuleDict({name: OPS[name](C, C, 1) for name in self.op_names})
        self.alive: tuple[str, ...] = self.op_names

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
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
    """A NAS-Bench-201 cell: node i = sum over j < i of edge(j -> i)(node j); output = node 3."""

    def __init__(self, edge_ops: Sequence[Sequence[str]], C: int):
        super().__init__()
        self.edges = nn.ModuleList(Edge(ops, C) for ops in edge_ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for i in range(1, 4):
            total = None
            for j in range(i):
                y = self.edges[k](nodes[j])
                k += 1
                if y is not None:
                    total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[3]


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x) if self.stem is not None else x
        for cell in self.cells:
            feature = cell(feature)
        out = self.lastact(feature)
        out = self.global_pooling(out).flatten(1)
        return self.classifier(out)


def build_network(arch: ArchLike, C: int = 16, N: int = 5, num_classes: int = 10) -> TinyNetwork:
    """The benchmark's evaluation network for a cell (string, index, or 6 op names)."""
    cell = to_cell(arch)
    return TinyNetwork([[op] for op in cell], C=C, N=N, num_classes=num_classes)


def full_mask(include_none: bool = False) -> np.ndarray:
    """The alive mask of the full supernet: every op on every edge (``none`` only if asked)."""
    mask = np.ones((NUM_EDGES, len(OP_NAMES)), dtype=bool)
    if not include_none:
        mask[:, OP_NAMES.index("none")] = False
    return mask


def supernet(alive: np.ndarray | None = None, C: int = 3, N: int = 1, num_classes: int = 10) -> TinyNetwork:
    """TE-NAS' NTK supernet: all ops on every edge, with stem; ``alive`` as in :meth:`TinyNetwork.set_alive`."""
    net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=C, N=N, num_classes=num_classes, use_stem=True)
    return net.set_alive(full_mask() if alive is None else alive)


def thin_supernet(alive: np.ndarray | None = None, C: int = 1, num_classes: int = 10) -> TinyNetwork:
    """TE-NAS' linear-region supernet: one cell at ``C`` channels (input has ``C`` channels), no stem."""
    net = TinyNetwork([OP_NAMES] * NUM_EDGES, C=C, N=1, num_classes=num_classes, use_stem=False, depth=1)
    return net.set_alive(full_mask() if alive is None else alive)


def genotype(alive: np.ndarray) -> str:
    """The cell string once every edge has exactly one alive op."""
    mask = np.asarray(alive, dtype=bool)
    counts = mask.sum(axis=1)
    if mask.shape != (NUM_EDGES, len(OP_NAMES)) or not (counts == 1).all():
        raise ValueError(f"genotype needs exactly one alive op per edge, got counts {counts.tolist()}")
    return format_arch([OP_NAMES[int(np.argmax(row))] for row in mask])


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (all of them, as the benchmark counts)."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------------
# the search-space protocol (tenas.search.space.SearchSpace)
# --------------------------------------------------------------------------------------------------
class _MaskAdapter(nn.Module):
    """Wraps a TinyNetwork so that it takes the pruner's (1, 6, 5) masks."""

    def __init__(self, net: TinyNetwork):
        super().__init__()
        self.net = net

    def set_alive(self, alive: np.ndarray) -> "_MaskAdapter":
        self.net.set_alive(np.asarray(alive, dtype=bool).reshape(NUM_EDGES, len(OP_NAMES)))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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

    def edge_label(self, cell_type: int, edge: int) -> str:
        to, frm = EDGES[edge]
        return f"{to}<-{frm}"

    def edge_groups(self) -> None:
        return None
