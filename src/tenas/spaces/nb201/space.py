"""NAS-Bench-201 as a search space (:mod:`tenas.spaces.base`): flattened masks in, networks, strings and costs out."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from tenas.spaces.base import BaseSpace, Cost, SpaceDefaults
from tenas.spaces.nb201.cells import EDGES, NUM_EDGES, OP_NAMES, format_arch, full_mask, genotype, to_cell
from tenas.spaces.nb201.network import TinyNetwork, build_network, count_parameters, edge_weights

#: the ops a search and its one-edit moves use (``none`` is never a candidate)
SEARCH_OPS = tuple(op for op in OP_NAMES if op != "none")
#: input side per dataset for FLOPs (the benchmark's convention); other data: CIFAR's 32
_SIDE = {"ImageNet16-120": 16}


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


class NB201Space(BaseSpace):
    """NAS-Bench-201 for the TE-NAS pruner: NTK supernet C=3, N=1 with stem; thin net C=1, one cell."""

    name = "nb201"
    op_names = OP_NAMES
    benchmark_name = "NAS-Bench-201"
    #: ``tenas correlate``: the benchmark's rows are the space's own cell indices (what its caches and the
    #: default protocol's seeds are keyed by)
    indexed_benchmark = True
    cell_types = ("normal",)
    num_edges = NUM_EDGES
    region_input_channels = 1
    defaults = SpaceDefaults(datasets=("cifar10", "cifar100", "ImageNet16-120", "folder"))

    def __init__(self, C: int = 3, N: int = 1, thin_C: int = 1):
        self.C, self.N, self.thin_C = C, N, thin_C

    def options(self) -> dict:
        return {"C": self.C, "N": self.N, "thin_C": self.thin_C}

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

    def to_mask(self, arch: str) -> np.ndarray:
        mask = np.zeros((1, NUM_EDGES, len(OP_NAMES)), dtype=bool)
        for e, op in enumerate(_cell(arch)):
            mask[0, e, OP_NAMES.index(op)] = True
        return mask

    def canonical(self, arch: str) -> str:
        """The benchmark's own string (every one of its 15,625 strings is a row of its own)."""
        return format_arch(_cell(arch))

    def neighbours(self, arch: str) -> list[str]:
        """The 18 cells one edge away (another op than ``none`` and the current one), in edge order."""
        cell = list(_cell(arch))
        return [format_arch(cell[:e] + [op] + cell[e + 1:]) for e in range(NUM_EDGES) for op in SEARCH_OPS
                if op != cell[e]]

    def build_network(self, arch: str, num_classes: int) -> nn.Module:
        return build_network(_cell(arch), num_classes=num_classes)

    def scaled_network(self, arch: str, width: float, num_classes: int) -> nn.Module:
        return build_network(_cell(arch), C=max(1, round(16 * width)), num_classes=num_classes)

    def proxy_network(self, arch: str, kind: str, C: int, N: int, num_classes: int) -> nn.Module:
        cell = _cell(arch)
        if kind == "thin":
            return TinyNetwork([[op] for op in cell], C=1, N=1, num_classes=num_classes, use_stem=False, depth=1)
        return TinyNetwork([[op] for op in cell], C=C, N=N, num_classes=num_classes)

    def arch_key(self, arch: str) -> int:
        """The benchmark index (the seeds of ``tenas correlate`` are drawn from it)."""
        from tenas.spaces.nb201.cells import arch_to_index

        return arch_to_index(_cell(arch))

    def cost(self, arch: str, num_classes: int, dataset: str = "cifar10") -> Cost:
        """Parameters and FLOPs of the benchmark's network (C=16, N=5), by its convention; summed per edge from
        the network's per-op shares (exact: every op's cost is its own, tests check it against built networks)."""
        base, per_op = _cost_table(int(num_classes), _SIDE.get(dataset, 32))
        cell = _cell(arch)
        params = base[0] + sum(per_op[op][0] for op in cell)
        flops = base[1] + sum(per_op[op][1] for op in cell)
        return Cost(int(params), int(flops))

    def benchmark(self, arch: str, dataset: str) -> dict | None:
        from tenas.bench.nb201 import DATASETS, lookup

        if dataset not in {d for d, _, _ in DATASETS}:
            return None
        return lookup(arch).to_dict()

    def train_protocol(self, dataset: str) -> str:
        return "nb201"

    def train_network(self, arch: str, dataset: str, num_classes: int, channels: int, cells: int,
                      auxiliary: bool) -> nn.Module:
        """The benchmark's network at ``channels`` (C) and ``cells`` per stage (N)."""
        return build_network(_cell(arch), C=channels, N=cells, num_classes=num_classes)

    def benchmark_table(self, dataset: str):
        """The 15,625 cells in benchmark index order and their 200-epoch test accuracy on ``dataset``."""
        from tenas.bench._table import load_table

        column = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}
        if dataset not in column:
            return None
        archs, cols = load_table()
        return list(archs), np.asarray(cols[column[dataset]])

    def has_dead_op(self, arch: str) -> bool:
        """An op off every input-to-output path (:func:`tenas.spaces.nb201.has_dead_op`)."""
        from tenas.spaces.nb201.cells import has_dead_op

        return has_dead_op(arch)

    def bench_record(self, arch: str) -> tuple[dict, str]:
        """The benchmark's record of a cell string or index 0..15624, and its table."""
        from tenas.bench.nb201 import format_record, lookup

        record = lookup(arch)
        return record.to_dict(), format_record(record, title=self.benchmark_name)

    def format_benchmark(self, bench: dict) -> str:
        return (f"NAS-Bench-201 #{bench['index']}, test accuracy (200 epochs): CIFAR-10 {bench['cifar10_test']:.2f}, "
                f"CIFAR-100 {bench['cifar100_test']:.2f}, ImageNet16-120 {bench['imagenet16_120_test']:.2f}  "
                f"({bench['params_cifar10']:.3f} M params, {bench['flops_cifar10']:.1f} MFLOPs on CIFAR-10)")

    def edge_weights(self, alive: np.ndarray) -> np.ndarray:
        """Masks (..., 1, 6, 5) -> the op weights of the weighted forward (see :func:`edge_weights`)."""
        return edge_weights(alive)

    def edge_label(self, cell_type: int, edge: int) -> str:
        to, frm = EDGES[edge]
        return f"{to}<-{frm}"


def _cell(arch) -> tuple[str, ...]:
    """:func:`to_cell` with every unusable input as ``ValueError``."""
    try:
        return to_cell(arch)
    except TypeError:
        raise ValueError(f"a NAS-Bench-201 cell is a string, an index or 6 op names, got {arch!r}") from None


@functools.lru_cache(maxsize=16)
def _cost_table(num_classes: int, side: int) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """(params, FLOPs) of the all-``none`` network, and each op's share on one edge (the same on every edge)."""
    from tenas.spaces.flops import count_flops

    def measure(cell):
        net = build_network(cell, num_classes=num_classes)
        return count_parameters(net), int(round(count_flops(net, (1, 3, side, side)) * 1e6))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        base = measure(("none",) * NUM_EDGES)
        per_op = {}
        for op in OP_NAMES:
            p, f = measure((op,) + ("none",) * (NUM_EDGES - 1))
            per_op[op] = (p - base[0], f - base[1])
    finally:
        torch.set_num_threads(threads)
    return base, per_op


