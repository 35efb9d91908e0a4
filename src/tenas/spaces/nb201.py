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
import torch.nn.functional as F
from torch import nn

from tenas.spaces.ops import OPS, Identity, Pool, ReLUConvBN, ResNetBasicBlock, Zero

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
    computed with far fewer ops, which is what makes the NTK of a supernet fast (see :func:`_fused_cell`).
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
        plan = _fusion_plan(self) if self.fused and weights is None else None
        if plan is not None:
            return _fused_cell(plan, x)
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


# --------------------------------------------------------------------------------------------------
# the fused cell: one ReLU, one convolution and one BatchNorm per source node
# --------------------------------------------------------------------------------------------------
# A cell with every op alive runs 12 ReLU-Conv-BN ops, 6 poolings and ~20 additions, on tensors of a few
# channels. All convolutions reading node j see the same ReLU(node j): they are computed as one
# convolution with the weights concatenated along the output channels (a 1x1 kernel zero-padded to 3x3
# when both sizes are alive), followed by one BatchNorm over the concatenated channels -- BatchNorm is per
# channel, so this is exact -- whose affine weight and bias absorb the edge's 1/len(alive). The pooling of
# node j is computed once for all its edges. Weights are re-assembled from the op modules' own parameters
# and buffers on every call, so gradients reach the original parameters and running statistics are
# updated in place exactly as the op modules would update them; the function computed is the same (up to
# float rounding from the order of additions).

_EDGE_INDEX = {edge: k for k, edge in enumerate(EDGES)}


def _has_hooks(module: nn.Module) -> bool:
    from torch.nn.modules import module as _m

    for name in ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks"):
        if getattr(_m, name, None):
            return True
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
               for m in module.modules())


def _standard_conv(op: nn.Module) -> bool:
    if type(op) is not ReLUConvBN or len(op) != 3:
        return False
    relu, conv, bn = op[0], op[1], op[2]
    k = conv.kernel_size[0] if type(conv) is nn.Conv2d else 0
    return (type(relu) is nn.ReLU and type(bn) is nn.BatchNorm2d and k in (1, 3)
            and conv.kernel_size == (k, k) and conv.stride == (1, 1) and conv.padding == (k // 2, k // 2)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.bias is None and conv.padding_mode == "zeros")


def _standard_pool(op: nn.Module) -> bool:
    if type(op) is not Pool or op.preprocess is not None or type(op.pool) is not nn.AvgPool2d:
        return False
    p = op.pool
    return (p.kernel_size in (3, (3, 3)) and p.stride in (1, (1, 1)) and p.padding in (1, (1, 1))
            and not p.count_include_pad and not p.ceil_mode and p.divisor_override is None)


def _same_bn_settings(bns: list[nn.BatchNorm2d]) -> bool:
    b0 = bns[0]
    for bn in bns[1:]:
        if (bn.training, bn.track_running_stats, bn.affine, bn.eps, bn.momentum) != (
                b0.training, b0.track_running_stats, b0.affine, b0.eps, b0.momentum):
            return False
    if b0.training and b0.track_running_stats and b0.momentum is None:  # cumulative average: same counts
        counts = {int(bn.num_batches_tracked) for bn in bns}
        return len(counts) == 1
    return True


def _fusion_plan(cell: Cell201) -> list | None:
    """Per source node j: (skip coefficient per target node, pool coefficient per target node,
    [(ReLUConvBN, factor, target node)]); None when the cell must run op by op."""
    if _has_hooks(cell):
        return None
    plan = []
    for j in range(3):
        skip: dict[int, float] = {}
        pool: dict[int, float] = {}
        convs: list[tuple[ReLUConvBN, float, int]] = []
        for i in range(j + 1, 4):
            edge = cell.edges[_EDGE_INDEX[(i, j)]]
            factor = 1.0 / len(edge.alive) if len(edge.alive) > 1 else 1.0
            for name in edge.alive:
                op = edge.ops[name]
                if type(op) is Zero:
                    continue
                if type(op) is Identity:
                    skip[i] = skip.get(i, 0.0) + factor
                elif _standard_pool(op):
                    pool[i] = pool.get(i, 0.0) + factor
                elif _standard_conv(op):
                    convs.append((op, factor, i))
                else:
                    return None
        if convs and not _same_bn_settings([op[2] for op, _, _ in convs]):
            return None
        plan.append((skip, pool, convs))
    return plan


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """``AvgPool2d(3, 1, 1, count_include_pad=False)`` as a depthwise box sum times 1/count (a faster
    backward pass on CPU than the pooling kernel's)."""
    c, h, w = x.shape[1:]

    def counts(size: int) -> torch.Tensor:  # how many of the 3 taps fall inside, per row/column
        t = torch.full((size,), 3.0, dtype=x.dtype, device=x.device)
        t[0] -= 1.0
        t[-1] -= 1.0
        return t.clamp_(min=1.0)

    inv = (counts(h)[:, None] * counts(w)[None, :]).reciprocal_()
    ones = torch.ones(c, 1, 3, 3, dtype=x.dtype, device=x.device)
    return F.conv2d(x, ones, padding=1, groups=c) * inv


def _relu_conv_bn_group(x: torch.Tensor, convs: list) -> list[torch.Tensor]:
    """All ReLU-Conv-BN ops reading ``x`` as one conv and one BatchNorm: each op's output times its factor,
    in ``convs`` order. Channels are ordered 3x3 ops first, so that the 1x1 weights are padded in one op;
    few autograd nodes matter because the NTK runs one backward pass per sample."""
    order = [k for k, (op, _, _) in enumerate(convs) if op[1].kernel_size[0] == 3]
    ones = [k for k, (op, _, _) in enumerate(convs) if op[1].kernel_size[0] == 1]
    order += ones

    def cat(tensors: list[torch.Tensor]) -> torch.Tensor:
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors)

    w3 = [convs[k][0][1].weight for k in order[:len(order) - len(ones)]]
    w1 = [convs[k][0][1].weight for k in ones]
    if w3 and w1:
        weight = torch.cat(w3 + [F.pad(cat(w1), (1, 1, 1, 1))])
    else:
        weight = cat(w3 or w1)
    z = F.conv2d(F.relu(x), weight, padding=1 if w3 else 0)

    bns = [convs[k][0][2] for k in order]
    factors = [convs[k][1] for k in order]
    b0 = bns[0]
    scale = None
    if any(f != 1.0 for f in factors):
        scale = torch.tensor(factors, dtype=z.dtype, device=z.device).repeat_interleave(b0.num_features)
    if b0.affine:
        bn_weight, bn_bias = cat([bn.weight for bn in bns]), cat([bn.bias for bn in bns])
        if scale is not None:
            bn_weight, bn_bias = bn_weight * scale, bn_bias * scale
    else:
        bn_weight, bn_bias = scale, None
    # BatchNorm2d.forward, for the concatenated channels
    momentum = 0.0 if b0.momentum is None else b0.momentum
    if b0.training and b0.track_running_stats:
        for bn in bns:
            bn.num_batches_tracked.add_(1)
        if b0.momentum is None:
            momentum = 1.0 / float(b0.num_batches_tracked)
    if (not b0.training or b0.track_running_stats) and b0.running_mean is not None:
        mean, var = cat([bn.running_mean for bn in bns]), cat([bn.running_var for bn in bns])
        if len(bns) == 1:  # F.batch_norm updates them in place: never hand over the buffers themselves
            mean, var = mean.clone(), var.clone()
    else:
        mean = var = None
    batch_stats = b0.training or mean is None
    y = F.batch_norm(z, mean, var, bn_weight, bn_bias, batch_stats, momentum, b0.eps)
    if batch_stats and mean is not None:  # write the updated running statistics back
        with torch.no_grad():
            start = 0
            for bn in bns:
                stop = start + bn.num_features
                bn.running_mean.copy_(mean[start:stop])
                bn.running_var.copy_(var[start:stop])
                start = stop
    # unbind (not slicing): its backward writes the gradient of the whole group in one pass
    outs = y.unflatten(1, (len(order), x.shape[1])).unbind(1)
    result: list[torch.Tensor] = [outs[0]] * len(convs)
    for position, k in enumerate(order):
        result[k] = outs[position]
    return result


def _fused_cell(plan: list, x: torch.Tensor) -> torch.Tensor:
    nodes = [x]
    acc: list[torch.Tensor | None] = [None] * 4
    for j, (skip, pool, convs) in enumerate(plan):
        xj = nodes[j]
        terms: list[tuple[int, torch.Tensor]] = []
        pooled = _avg_pool_3x3(xj) if pool else None
        shared: dict[tuple[float, float], torch.Tensor] = {}
        for i in range(j + 1, 4):
            a, b = skip.get(i, 0.0), pool.get(i, 0.0)
            if not (a or b):
                continue
            if (a, b) not in shared:
                if a and a == b:
                    t = xj + pooled
                    shared[(a, b)] = t if a == 1.0 else t * a
                else:
                    t = None
                    if a:
                        t = xj if a == 1.0 else xj * a
                    if b:
                        tb = pooled if b == 1.0 else pooled * b
                        t = tb if t is None else t + tb
                    shared[(a, b)] = t
            terms.append((i, shared[(a, b)]))
        if convs:
            terms.extend((i, out) for (_, _, i), out in zip(convs, _relu_conv_bn_group(xj, convs)))
        for i, t in terms:
            acc[i] = t if acc[i] is None else acc[i] + t
        nodes.append(torch.zeros_like(x) if acc[j + 1] is None else acc[j + 1])
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
