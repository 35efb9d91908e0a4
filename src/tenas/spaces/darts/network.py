"""DARTS cells and networks (Liu, Simonyan & Yang, ICLR 2019), NASNet-style: evaluation networks and supernets.

A cell reads the outputs of the previous two cells (states 0 and 1, each first mapped to ``C`` channels by
a 1x1 ReLU-Conv-BN, or by :class:`~tenas.spaces.darts.ops.FactorizedReduce` when the previous cell halved
the resolution) and computes ``STEPS = 4`` intermediate states 2..5; state ``i`` sums one edge from every
earlier state, so a cell has 2 + 3 + 4 + 5 = 14 edges (:data:`EDGES`, in the order ``(2, 0), (2, 1),
(3, 0), ...`` -- the order of TE-NAS' ``edge2index`` too). The cell outputs the concatenation of its
states 2..5 (``4C`` channels). A reduction cell is the same with stride 2 on the edges leaving states 0
and 1; normal and reduction cells have their own ops.

The same module class (:class:`DartsNetwork`) is

- the evaluation network of a genotype (one op on the two chosen input edges of every node; CIFAR:
  20 cells at 36 channels, stem 3x3 conv to 3C, reductions at 1/3 and 2/3 depth, auxiliary head after
  the cell at 2/3 depth; ImageNet mobile: 14 cells at 48 channels with DARTS' three-conv ImageNet stem),
- TE-NAS' NTK supernet (``C=1, N=1, depth=2``: one normal and one reduction cell, stem with multiplier 1,
  BN-ReLU before pooling; all 8 ops on every edge) and its thin linear-region network (the same without
  the stem; inputs are 1-channel crops),

with an alive mask of shape ``(2, 14, 8)`` (cell type x edge x :data:`OP_NAMES`). An edge's output is the
mean of its alive ops (TE-NAS' softmax over architecture weights that are 0 for alive and -inf for
pruned ops); an edge with no alive op contributes nothing. Masking an op is exactly removing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch
from torch import nn

from tenas.spaces.darts.ops import OPS, FactorizedReduce, Identity, ReLUConvBN, drop_path
from tenas.spaces.genotypes import DARTS_V2, PRIMITIVES, STEPS, Genotype, GenotypeLike, to_genotype

__all__ = [
    "OP_NAMES", "EDGES", "EDGE_INDEX", "NUM_EDGES", "EDGE_GROUPS", "CELL_TYPES", "MASK_SHAPE", "DEFAULT_CONCAT",
    "Edge", "DartsCell", "DartsNetwork", "build_network", "build_imagenet_network", "supernet", "thin_supernet",
    "full_mask", "genotype", "alive_from_genotype", "edge_weights", "count_parameters", "DARTS_V2",
]

OP_NAMES: tuple[str, ...] = PRIMITIVES
#: Edges as (to_state, from_state), in mask order.
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(2, STEPS + 2) for j in range(i))
NUM_EDGES = len(EDGES)  # 14
EDGE_INDEX: dict[tuple[int, int], int] = {e: k for k, e in enumerate(EDGES)}
#: [start, end) edge ranges into each intermediate node (TE-NAS keeps 2 edges of each).
EDGE_GROUPS: tuple[tuple[int, int], ...] = ((0, 2), (2, 5), (5, 9), (9, 14))
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")
MASK_SHAPE = (len(CELL_TYPES), NUM_EDGES, len(OP_NAMES))
DEFAULT_CONCAT = tuple(range(2, STEPS + 2))

EdgeOps = Sequence[Sequence[str]]  # per edge, its candidate op names (possibly none)


# --------------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------------
class Edge(nn.Module):
    """One edge with its candidate ops. Output: the alive ops' sum, divided by their number when
    ``average`` (supernet semantics; ``none`` counts in the number and adds zeros); ``None`` when no
    op but ``none`` is alive (the edge contributes nothing)."""

    def __init__(self, op_names: Sequence[str], C: int, stride: int, average: bool = True):
        super().__init__()
        self.op_names = tuple(op_names)
        if len(set(self.op_names)) != len(self.op_names):
            raise ValueError(f"an edge lists an op twice: {self.op_names}")
        self.ops = nn.ModuleDict({name: OPS[name](C, stride) for name in self.op_names})
        self.average = average
        self.alive: tuple[str, ...] = self.op_names

    def forward(self, x: torch.Tensor, drop_prob: float = 0.0, weights: Optional[torch.Tensor] = None
                ) -> Optional[torch.Tensor]:
        if weights is not None:  # every op, weighted (candidate batching: no data-dependent skipping)
            out = None
            for name in self.op_names:
                if name != "none":
                    y = self.ops[name](x) * weights[OP_NAMES.index(name)]
                    out = y if out is None else out + y
            return out
        out = None
        for name in self.alive:
            if name == "none":
                continue
            op = self.ops[name]
            y = op(x)
            if drop_prob > 0.0 and self.training and not isinstance(op, Identity):
                y = drop_path(y, drop_prob)
            out = y if out is None else out + y
        if out is not None and self.average and len(self.alive) > 1:
            out = out * (1.0 / len(self.alive))
        return out


class DartsCell(nn.Module):
    """A DARTS cell (normal or reduction) whose 14 edges carry the given candidate ops."""

    def __init__(
        self,
        edge_ops: EdgeOps,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        concat: Sequence[int] = DEFAULT_CONCAT,
        average: bool = True,
    ):
        super().__init__()
        if len(edge_ops) != NUM_EDGES:
            raise ValueError(f"a DARTS cell needs candidate ops for {NUM_EDGES} edges, got {len(edge_ops)}")
        self.reduction = reduction
        self.C = C
        self.concat = tuple(concat)
        self.multiplier = len(self.concat)
        self.preprocess0 = FactorizedReduce(C_prev_prev, C) if reduction_prev else ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.edges = nn.ModuleList(
            Edge(ops, C, 2 if reduction and j < 2 else 1, average) for ops, (_, j) in zip(edge_ops, EDGES)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0,
                weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        k = 0
        for i in range(2, STEPS + 2):
            total = None
            for j in range(i):
                y = self.edges[k](states[j], drop_prob, None if weights is None else weights[k])
                k += 1
                if y is not None:
                    total = y if total is None else total + y
            if total is None:  # every edge into this node is masked: the node is zero
                n, _, h, w = states[1].shape
                if self.reduction:
                    h, w = (h + 1) // 2, (w + 1) // 2
                total = states[1].new_zeros(n, self.C, h, w)
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Sequential):
    """DARTS' auxiliary classifier (CIFAR: 8x8 input, pool stride 3; ImageNet: 14x14, stride 2 and, as in
    DARTS' experiments, no BN after the 768-channel conv)."""

    def __init__(self, C: int, num_classes: int, imagenet: bool = False):
        layers: list[nn.Module] = [
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2 if imagenet else 3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
        ]
        if not imagenet:
            layers.append(nn.BatchNorm2d(768))
        layers += [nn.ReLU(inplace=True), nn.Flatten(1), nn.Linear(768, num_classes)]
        super().__init__(*layers)


class DartsNetwork(nn.Module):
    """Cells stacked NASNet/DARTS-style, as evaluation network or (masked) supernet.

    Cell ``i`` of ``layers`` is a reduction cell for ``i in (layers // 3, 2 * layers // 3)``, where the
    channel count doubles (TE-NAS' ``N`` is ``layers = 3N``). ``depth > 0`` keeps only the first ``depth``
    cells. ``stem``: ``"cifar"`` (3x3 conv to ``stem_multiplier * C`` + BN), ``"imagenet"`` (DARTS' two
    stride-4 and stride-2 stems) or ``"none"`` (inputs, with ``stem_multiplier * C`` channels, go straight
    into the first cell). ``lastact`` adds BN-ReLU before pooling (TE-NAS' supernets; DARTS' evaluation
    networks have none). ``average``: an edge outputs the mean of its alive ops (supernet) or their sum.

    ``forward(x)`` returns the logits; ``forward(x, with_aux=True)`` returns ``(logits, aux_logits)``
    where ``aux_logits`` is ``None`` unless the network has an auxiliary head and is training.
    ``drop_path_prob`` (attribute, DARTS' drop-path) applies in training mode.
    """

    def __init__(
        self,
        normal_ops: EdgeOps,
        reduce_ops: EdgeOps,
        C: int = 36,
        layers: int = 20,
        num_classes: int = 10,
        stem: str = "cifar",
        stem_multiplier: int = 3,
        auxiliary: bool = False,
        depth: int = -1,
        lastact: bool = False,
        normal_concat: Sequence[int] = DEFAULT_CONCAT,
        reduce_concat: Sequence[int] = DEFAULT_CONCAT,
        average: bool = True,
    ):
        super().__init__()
        if stem not in ("cifar", "imagenet", "none"):
            raise ValueError(f"stem must be 'cifar', 'imagenet' or 'none', got {stem!r}")
        if layers < 1 or C < 1:
            raise ValueError(f"need layers >= 1 and C >= 1, got layers={layers}, C={C}")
        self.C, self.layers, self.num_classes, self.stem_kind = C, layers, num_classes, stem
        self.drop_path_prob = 0.0
        if stem == "cifar":
            c_stem = stem_multiplier * C
            self.stem: Optional[nn.Module] = nn.Sequential(
                nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)
            )
            self.stem1: Optional[nn.Module] = None
            c_pp, c_p, reduction_prev = c_stem, c_stem, False
        elif stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(C // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(C),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C)
            )
            c_pp, c_p, reduction_prev = C, C, True
        else:
            self.stem, self.stem1 = None, None
            c_pp = c_p = stem_multiplier * C
            reduction_prev = False
        self.in_channels = 3 if stem != "none" else c_p

        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        c_aux = None
        c_curr = C
        for i in range(layers):
            if depth > 0 and i >= depth:
                break
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cell = DartsCell(
                reduce_ops if reduction else normal_ops,
                c_pp, c_p, c_curr, reduction, reduction_prev,
                reduce_concat if reduction else normal_concat,
                average,
            )
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == self.aux_index:
                c_aux = c_p
        self.auxiliary_head: Optional[nn.Module] = None
        if auxiliary:
            if c_aux is None:
                raise ValueError(f"no auxiliary head: the network stops before cell {self.aux_index}")
            self.auxiliary_head = AuxiliaryHead(c_aux, num_classes, imagenet=(stem == "imagenet"))
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_p), nn.ReLU(inplace=False)) if lastact else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    # -- alive masks ------------------------------------------------------------------------------
    def _edges_by_type(self) -> list[list[list[Edge]]]:
        by_type: list[list[list[Edge]]] = [[], []]
        for cell in self.cells:
            by_type[1 if cell.reduction else 0].append(list(cell.edges))
        return by_type

    def set_alive(self, alive: np.ndarray) -> "DartsNetwork":
        """Set which ops are alive: a boolean mask of shape (2, 14, 8) over (cell type, edge, :data:`OP_NAMES`)."""
        mask = np.asarray(alive, dtype=bool)
        if mask.shape != MASK_SHAPE:
            raise ValueError(f"alive mask must have shape {MASK_SHAPE} (cell type, edge, op), got {mask.shape}")
        for t, cells in enumerate(self._edges_by_type()):
            for edges in cells:
                for e, edge in enumerate(edges):
                    names = tuple(OP_NAMES[k] for k in range(len(OP_NAMES)) if mask[t, e, k])
                    missing = [n for n in names if n not in edge.op_names]
                    if missing:
                        raise ValueError(f"{CELL_TYPES[t]} edge {e} has no candidate op {missing}")
                    edge.alive = tuple(n for n in edge.op_names if n in names)
        return self

    def get_alive(self) -> np.ndarray:
        """The current alive mask (cell types the network lacks are all False)."""
        mask = np.zeros(MASK_SHAPE, dtype=bool)
        for t, cells in enumerate(self._edges_by_type()):
            for edges in cells[:1]:
                for e, edge in enumerate(edges):
                    for name in edge.alive:
                        mask[t, e, OP_NAMES.index(name)] = True
        return mask

    # -- forward ----------------------------------------------------------------------------------
    def op_of_relu(self) -> dict[int, int]:
        """id of every ``nn.ReLU`` inside an edge op -> its op's index in the flattened (2, 14, 8) mask."""
        found = {}
        for t, cells in enumerate(self._edges_by_type()):
            for edges in cells:
                for e, edge in enumerate(edges):
                    for name, op in edge.ops.items():
                        for m in op.modules():
                            if isinstance(m, nn.ReLU):
                                found[id(m)] = (t * NUM_EDGES + e) * len(OP_NAMES) + OP_NAMES.index(name)
        return found

    def forward(self, x: torch.Tensor, with_aux: bool = False, edge_weights: Optional[torch.Tensor] = None):
        """Logits (and the auxiliary head's with ``with_aux``); ``edge_weights`` (2 x 14 x 8) runs every op
        weighted instead of the alive mask (see :func:`edge_weights`): the form candidate batching vmaps over."""
        aux = None
        if self.stem is None:
            s0 = s1 = x
        elif self.stem1 is None:
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem(x)
            s1 = self.stem1(s0)
        drop = self.drop_path_prob if self.training else 0.0
        for i, cell in enumerate(self.cells):
            w = None if edge_weights is None else edge_weights[1 if cell.reduction else 0]
            s0, s1 = s1, cell(s0, s1, drop) if w is None else cell(s0, s1, drop, w)
            if i == self.aux_index and with_aux and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        out = s1 if self.lastact is None else self.lastact(s1)
        logits = self.classifier(self.global_pooling(out).flatten(1))
        return (logits, aux) if with_aux else logits


# --------------------------------------------------------------------------------------------------
# genotypes <-> masks <-> networks
# --------------------------------------------------------------------------------------------------
def _cell_edge_ops(pairs: Sequence[tuple[str, int]]) -> list[list[str]]:
    ops: list[list[str]] = [[] for _ in range(NUM_EDGES)]
    for k, (op, src) in enumerate(pairs):
        ops[EDGE_INDEX[(k // 2 + 2, src)]].append(op)
    return ops


def alive_from_genotype(g: GenotypeLike) -> np.ndarray:
    """The (2, 14, 8) mask of a genotype's ops."""
    g = to_genotype(g)
    mask = np.zeros(MASK_SHAPE, dtype=bool)
    for t, pairs in enumerate((g.normal, g.reduce)):
        for e, ops in enumerate(_cell_edge_ops(pairs)):
            for op in ops:
                mask[t, e, OP_NAMES.index(op)] = True
    return mask


def genotype(alive: np.ndarray) -> Genotype:
    """The genotype once the search is over: every node has exactly 2 input edges with an alive op,
    each with exactly one (not ``none``); all other edges fully masked. Pairs are listed by input."""
    mask = np.asarray(alive, dtype=bool)
    if mask.shape != MASK_SHAPE:
        raise ValueError(f"alive mask must have shape {MASK_SHAPE}, got {mask.shape}")
    cells = []
    for t in range(len(CELL_TYPES)):
        pairs: list[tuple[str, int]] = []
        for (start, end) in EDGE_GROUPS:
            node = EDGES[start][0]
            chosen = [e for e in range(start, end) if mask[t, e].any()]
            if len(chosen) != 2:
                raise ValueError(
                    f"{CELL_TYPES[t]} node {node} has {len(chosen)} input edges with alive ops, need exactly 2 "
                    "(run edge selection first)"
                )
            for e in chosen:
                ops = [OP_NAMES[k] for k in np.flatnonzero(mask[t, e])]
                if len(ops) != 1 or ops[0] == "none":
                    raise ValueError(f"{CELL_TYPES[t]} edge {EDGES[e][0]}<-{EDGES[e][1]} must keep exactly one op "
                                     f"(not 'none'), has {ops}")
                pairs.append((ops[0], EDGES[e][1]))
        cells.append(pairs)
    return to_genotype(Genotype(cells[0], list(DEFAULT_CONCAT), cells[1], list(DEFAULT_CONCAT)))


def build_network(
    g: GenotypeLike, C: int = 36, layers: int = 20, num_classes: int = 10, auxiliary: bool = True
) -> DartsNetwork:
    """DARTS' CIFAR evaluation network of a genotype (default: 20 cells, 36 channels, auxiliary head)."""
    g = to_genotype(g)
    return DartsNetwork(
        _cell_edge_ops(g.normal), _cell_edge_ops(g.reduce), C=C, layers=layers, num_classes=num_classes,
        stem="cifar", stem_multiplier=3, auxiliary=auxiliary, normal_concat=g.normal_concat,
        reduce_concat=g.reduce_concat, average=False,
    )


def build_imagenet_network(
    g: GenotypeLike, C: int = 48, layers: int = 14, num_classes: int = 1000, auxiliary: bool = True
) -> DartsNetwork:
    """DARTS' ImageNet (mobile setting) evaluation network: 14 cells, 48 channels, ImageNet stem."""
    g = to_genotype(g)
    return DartsNetwork(
        _cell_edge_ops(g.normal), _cell_edge_ops(g.reduce), C=C, layers=layers, num_classes=num_classes,
        stem="imagenet", auxiliary=auxiliary, normal_concat=g.normal_concat, reduce_concat=g.reduce_concat,
        average=False,
    )


def edge_weights(alive: np.ndarray) -> np.ndarray:
    """The op weights that make the weighted forward equal to the masked one (an edge averages its alive ops,
    ``none`` counted and weighted 0; see :mod:`tenas.spaces.weights`); same shape, float32."""
    from tenas.spaces.weights import mean_of_alive

    return mean_of_alive(alive, OP_NAMES.index("none"))


def full_mask(include_none: bool = False) -> np.ndarray:
    """Every op on every edge of both cell types (``none`` only if asked)."""
    mask = np.ones(MASK_SHAPE, dtype=bool)
    if not include_none:
        mask[:, :, OP_NAMES.index("none")] = False
    return mask


def supernet(
    alive: Optional[np.ndarray] = None, C: int = 1, N: int = 1, depth: int = 2, num_classes: int = 10,
    stem_multiplier: int = 1,
) -> DartsNetwork:
    """TE-NAS' NTK supernet for DARTS: C=1, N=1 (3 cells), first ``depth=2`` kept (normal + reduction),
    stem, BN-ReLU before pooling, all ops on every edge."""
    all_ops = [OP_NAMES] * NUM_EDGES
    net = DartsNetwork(all_ops, all_ops, C=C, layers=3 * N, num_classes=num_classes, stem="cifar",
                       stem_multiplier=stem_multiplier, depth=depth, lastact=True, average=True)
    return net.set_alive(full_mask() if alive is None else alive)


def thin_supernet(
    alive: Optional[np.ndarray] = None, C: int = 1, N: int = 1, depth: int = 2, num_classes: int = 10,
    stem_multiplier: int = 1,
) -> DartsNetwork:
    """TE-NAS' linear-region network for DARTS: as :func:`supernet` without the stem; inputs have
    ``stem_multiplier * C`` (= 1) channels."""
    all_ops = [OP_NAMES] * NUM_EDGES
    net = DartsNetwork(all_ops, all_ops, C=C, layers=3 * N, num_classes=num_classes, stem="none",
                       stem_multiplier=stem_multiplier, depth=depth, lastact=True, average=True)
    return net.set_alive(full_mask() if alive is None else alive)


def count_parameters(model: nn.Module, include_auxiliary: bool = False) -> int:
    """Parameters as DARTS counts them (``count_parameters_in_MB``): the auxiliary head is excluded
    unless asked."""
    return sum(p.numel() for name, p in model.named_parameters() if include_auxiliary or "auxiliary" not in name)
