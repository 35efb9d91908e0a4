"""DARTS as a search space for the TE-NAS pruner (:mod:`tenas.spaces.base`): masks (2, 14, 8) in; supernets,
genotypes, costs, published cells and the evaluation networks out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from tenas.spaces.base import BaseSpace, Cost, SpaceDefaults
from tenas.spaces.darts.network import (
    CELL_TYPES, EDGE_GROUPS, EDGES, NUM_EDGES, OP_NAMES, alive_from_genotype, build_imagenet_network, build_network,
    count_parameters, edge_weights, full_mask, genotype, supernet, thin_supernet,
)
from tenas.spaces.genotypes import format_genotype, to_genotype


class DartsSearchSpace(BaseSpace):
    """DARTS for the TE-NAS pruner: masks (2, 14, 8); NTK supernet C=1, N=1, depth 2 with stem; thin
    network the same without stem on 1-channel inputs; edge selection keeps 2 inputs per node."""

    name = "darts"
    #: The C=1 supernets' convolutions (mostly one-channel depthwise/pointwise) run their backward pass
    #: ~1.5x faster on CPU with torch's native kernels than with oneDNN (measured on the NTK, batch 14).
    cpu_onednn = False
    op_names = OP_NAMES
    cell_types = CELL_TYPES
    num_edges = NUM_EDGES
    #: the official launcher's settings: prune 3 per edge with batch 14 (CIFAR), 2 with batch 24 (ImageNet)
    defaults = SpaceDefaults(datasets=("cifar10", "imagenet", "folder"), batch_size={"*": 14, "imagenet": 24},
                             prune_number={"*": 3, "imagenet": 2})

    def __init__(self, C: int = 1, N: int = 1, depth: int = 2, stem_multiplier: int = 1):
        self.C, self.N, self.depth, self.stem_multiplier = C, N, depth, stem_multiplier
        self.region_input_channels = C * stem_multiplier

    def options(self) -> dict:
        return {"C": self.C, "N": self.N, "depth": self.depth, "stem_multiplier": self.stem_multiplier}

    def initial_alive(self) -> np.ndarray:
        return full_mask(include_none=False)

    def ntk_network(self, alive: np.ndarray, num_classes: int) -> nn.Module:
        return supernet(alive, C=self.C, N=self.N, depth=self.depth, num_classes=num_classes,
                        stem_multiplier=self.stem_multiplier)

    def region_network(self, alive: np.ndarray) -> nn.Module:
        return thin_supernet(alive, C=self.C, N=self.N, depth=self.depth, stem_multiplier=self.stem_multiplier)

    def genotype(self, alive: np.ndarray) -> str:
        return format_genotype(genotype(alive))

    def to_mask(self, arch: str) -> np.ndarray:
        return alive_from_genotype(arch)

    def canonical(self, arch: str) -> str:
        """DARTS' text of the genotype, pairs in the order given (a published name is replaced by its genotype)."""
        return format_genotype(to_genotype(arch))

    def neighbours(self, arch: str) -> list[str]:
        """Every genotype with one (op, input) pair's op replaced by another non-``none`` op, inputs kept."""
        g = to_genotype(arch)
        ops = [op for op in OP_NAMES if op != "none"]
        out = []
        for field in ("normal", "reduce"):
            pairs = list(getattr(g, field))
            for i, (op, src) in enumerate(pairs):
                for other in ops:
                    if other != op:
                        changed = pairs[:i] + [(other, src)] + pairs[i + 1:]
                        out.append(self.canonical(format_genotype(g._replace(**{field: changed}))))
        return sorted(set(out) - {self.canonical(format_genotype(g))})

    def build_network(self, arch: str, num_classes: int) -> nn.Module:
        """The CIFAR evaluation network of a genotype (see :func:`build_network`)."""
        return build_network(arch, num_classes=num_classes)

    def cost(self, arch: str, num_classes: int, dataset: str = "cifar10") -> Cost:
        """Parameters (DARTS' count: no auxiliary head) and FLOPs (multiply-adds of convolutions and linear layers)
        of the evaluation network: CIFAR's 20 cells at 36 channels on 32x32, or for ``imagenet`` the mobile
        network's 14 cells at 48 channels on 224x224 (:mod:`tenas.spaces.darts.costs`)."""
        from tenas.spaces.darts.costs import genotype_cost

        return genotype_cost(arch, num_classes, dataset)

    def cost_front(self, alive: np.ndarray, num_classes: int, dataset: str = "cifar10") -> np.ndarray:
        """The Pareto front of (params, FLOPs) over every genotype ``alive`` can still become: one op per edge,
        then 2 input edges per node (the budget guard's bound; exact, without listing the genotypes)."""
        from tenas.spaces.darts.costs import cheapest, cost_terms

        base, terms = cost_terms(int(num_classes), dataset)
        return cheapest(alive, terms, EDGE_GROUPS, 2) + np.array([base.params, base.flops], dtype=np.int64)

    def edge_weights(self, alive: np.ndarray) -> np.ndarray:
        """Masks (2, 14, 8) -> the op weights of the weighted forward (see :func:`edge_weights`)."""
        return edge_weights(alive)

    def edge_label(self, cell_type: int, edge: int) -> str:
        to, frm = EDGES[edge]
        return f"{CELL_TYPES[cell_type]} {to}<-{frm}"

    def edge_groups(self) -> Sequence[tuple[int, int]]:
        return list(EDGE_GROUPS)

    def train_protocol(self, dataset: str) -> str:
        return "darts-imagenet" if dataset == "imagenet" else "darts-cifar"

    def train_network(self, arch: str, dataset: str, num_classes: int, channels: int, cells: int,
                      auxiliary: bool) -> nn.Module:
        """DARTS' CIFAR network, or its ImageNet mobile network, at ``channels`` and ``cells`` (total cells)."""
        if dataset == "ImageNet16-120":
            raise ValueError("the DARTS evaluation networks are defined for CIFAR (32x32) and ImageNet (224x224); "
                             "ImageNet16-120 (16x16) is an NB201 data set: use --space nb201")
        if dataset == "imagenet":
            return build_imagenet_network(arch, C=channels, layers=cells, num_classes=num_classes, auxiliary=auxiliary)
        if cells < 2 and auxiliary:  # the head expects the 8x8 map after the second reduction cell
            raise ValueError(f"a DARTS network with an auxiliary head needs at least 2 cells, got {cells}")
        return build_network(arch, C=channels, layers=cells, num_classes=num_classes, auxiliary=auxiliary)

    def published_name(self, arch: str) -> str:
        """The canonical name of a published cell given by name (``DARTS-V2``: ``DARTS_V2``), else ''."""
        from tenas.spaces.genotypes import lookup_genotype

        if "(" in arch:
            return ""
        try:
            return lookup_genotype(arch).name
        except ValueError:
            return ""

    def published_table(self) -> str:
        """``tenas train --list``: every published cell, its evaluation network's size and its source."""
        from tenas.spaces.genotypes import published_table

        return published_table()

    def report(self, arch: str, dataset: str, num_classes: int, out) -> dict:
        """The evaluation network's parameter count (DARTS' count, no auxiliary head) and a drawing (cells.png)."""
        from pathlib import Path

        from tenas.report.cells import plot_darts_cells

        if dataset == "imagenet":
            net, setting = build_imagenet_network(arch), "ImageNet mobile: 14 cells, 48 channels"
        else:
            net, setting = build_network(arch, num_classes=num_classes), "CIFAR: 20 cells, 36 channels"
        plot_darts_cells(arch, Path(out) / "cells.png")
        return {"genotype": arch, "eval_network": setting, "eval_params_M": count_parameters(net) / 1e6,
                "files": ["cells.png"]}
