"""NAS-Bench-Macro as a search space (:mod:`tenas.spaces.base`): one "network" cell type, 8 layers as choice points.

The networks the search measures follow the rule of :mod:`tenas.spaces.base`, with nothing chosen for this
space: the NTK network is the supernet (every alive block of a layer averaged) with its stem, every width scaled
by 3/32 so that the first layer reads 3 channels (stem 3, stages 6 / 12 / 24, head 120), on 32x32 images; the
region network is the supernet with every width at one channel (hidden widths 3 and 6 by the blocks' expansion
ratios), without its stem, its first layer reading the 1-channel 3x3 crops.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from tenas.spaces.base import NTK_CHANNELS, REGION_CHANNELS, BaseSpace, Cost, SpaceDefaults
from tenas.spaces.macro import costs, strings
from tenas.spaces.macro.network import build_network, supernet

__all__ = ["MacroSpace"]


class MacroSpace(BaseSpace):
    """NAS-Bench-Macro (Su et al., CVPR 2021): per layer identity / IR k3 t3 / IR k5 t6; masks (1, 8, 3)."""

    name = "macro"
    op_names = strings.OP_NAMES
    benchmark_name = "NAS-Bench-Macro"
    cell_types = ("network",)
    num_edges = strings.NUM_LAYERS
    defaults = SpaceDefaults(datasets=("cifar10", "cifar100", "folder"))

    def __init__(self, ntk_width: float = NTK_CHANNELS / strings.STEM_CHANNELS,
                 region_width: float = REGION_CHANNELS / strings.HEAD_CHANNELS):
        self.ntk_width, self.region_width = float(ntk_width), float(region_width)

    def options(self) -> dict:
        return {"ntk_width": self.ntk_width, "region_width": self.region_width}

    def initial_alive(self) -> np.ndarray:
        return np.ones((1, strings.NUM_LAYERS, len(strings.OP_NAMES)), dtype=bool)

    def ntk_network(self, alive: np.ndarray, num_classes: int) -> nn.Module:
        return supernet(alive, width=self.ntk_width, num_classes=num_classes)

    def region_network(self, alive: np.ndarray) -> nn.Module:
        return supernet(alive, width=self.region_width, stem=False, in_channels=1)

    def genotype(self, alive: np.ndarray) -> str:
        return strings.from_mask(np.asarray(alive, dtype=bool).reshape(strings.NUM_LAYERS, -1))

    def to_mask(self, arch: str) -> np.ndarray:
        return strings.to_mask(arch)[None]

    def canonical(self, arch: str) -> str:
        return strings.canonical(arch)

    def neighbours(self, arch: str) -> list[str]:
        return strings.neighbours(arch)

    def build_network(self, arch: str, num_classes: int) -> nn.Module:
        return build_network(arch, num_classes=num_classes)

    def scaled_network(self, arch: str, width: float, num_classes: int) -> nn.Module:
        return build_network(arch, num_classes=num_classes, width=width)

    def cost(self, arch: str, num_classes: int, dataset: str = "cifar10") -> Cost:
        """Parameters and FLOPs as the benchmark counts them (32x32 inputs)."""
        return Cost(costs.params(arch, num_classes), costs.flops(arch, num_classes))

    def benchmark(self, arch: str, dataset: str) -> dict | None:
        """The benchmark's CIFAR-10 record (it has no other dataset)."""
        from tenas.spaces.macro.bench import lookup

        return lookup(arch).to_dict() if dataset == "cifar10" else None

    def train_protocol(self, dataset: str) -> str:
        return "nb-macro"

    def train_network(self, arch: str, dataset: str, num_classes: int, channels: int, cells: int,
                      auxiliary: bool) -> nn.Module:
        """The benchmark's network, every width scaled by ``channels`` / 32 (its stem's width); ``cells`` unused."""
        return build_network(arch, num_classes=num_classes, width=channels / strings.STEM_CHANNELS)

    def benchmark_table(self, dataset: str):
        """All 6,561 strings in the table's order (equivalent strings included, as the benchmark lists them) and
        their mean CIFAR-10 test accuracy."""
        from tenas.spaces.macro.bench import table

        if dataset != "cifar10":
            return None
        t = table()
        return list(t.arch), np.asarray(t.mean_acc)

    def bench_record(self, arch: str) -> tuple[dict, str]:
        """The table's row of an 8-digit string (accuracies of its 3 runs, params, FLOPs, canonical string)."""
        from tenas.spaces.macro.bench import format_record, lookup

        record = lookup(arch)
        return record.to_dict(), format_record(record)

    def format_benchmark(self, rec: dict) -> str:
        return (f"NAS-Bench-Macro {rec['canonical']}: CIFAR-10 test accuracy {rec['mean_acc']:.2f} "
                f"(+- {rec['std']:.2f}, 3 runs)  ({rec['params'] / 1e6:.3f} M params, {rec['flops'] / 1e6:.1f} MFLOPs)")

    def edge_label(self, cell_type: int, edge: int) -> str:
        return f"layer {edge + 1}"
