"""NAS-Bench-Macro: a macro search space of 8 layers x 3 ops (6,561 networks), with its CIFAR-10 table.

The network: a 3x3 stem (32 channels), 8 searchable layers in 3 stages of 2, 3 and 3 layers (each stage's
first layer has stride 2 and doubles the channels, 32 -> 64 -> 128 -> 256), a 1x1 conv head to 1280 channels,
global average pooling and a linear classifier. Each layer is one of ``0`` identity, ``1`` MobileNetV2
inverted residual kernel 3 expansion 3, ``2`` inverted residual kernel 5 expansion 6; an architecture is
the 8-digit string of those choices (e.g. ``"22212220"``, the benchmark's best, 93.13% mean test accuracy).
Identities after a stage's first layer only change the layer order, so such strings are equivalent
(:func:`canonical`; 3,969 distinct networks).

Modules: :mod:`.strings` (strings, canonical forms, masks, neighbours), :mod:`.network` (torch networks and
the supernet), :mod:`.costs` (analytic params / FLOPs), :mod:`.bench` (the packaged table).

Cite: Su, Huang, Li, You, Wang, Qian, Zhang, Xu, "Prioritized Architecture Sampling with Monte-Carlo Tree
Search", CVPR 2021 (repository xiusu/NAS-Bench-Macro, Apache-2.0; see DATA.md and LICENSE here).
"""

from __future__ import annotations

from tenas.spaces.macro.bench import MacroRecord, MacroTable, format_record, lookup, table
from tenas.spaces.macro.costs import flops, layer_costs, params
from tenas.spaces.macro.network import (
    InvertedResidual,
    MacroLayer,
    MacroNetwork,
    ReduceIdentity,
    build_network,
    make_op,
    supernet,
)
from tenas.spaces.macro.strings import (
    HEAD_CHANNELS,
    IMAGE_CHANNELS,
    IR_SPECS,
    NUM_LAYERS,
    NUM_OPS,
    OP_NAMES,
    STAGE_CHANNELS,
    STAGES,
    STEM_CHANNELS,
    STRIDES,
    ArchLike,
    all_archs,
    arch_index,
    canonical,
    format_arch,
    from_mask,
    is_canonical,
    layer_channels,
    neighbours,
    one_layer_edits,
    parse_arch,
    scaled,
    to_mask,
)

__all__ = [
    "OP_NAMES",
    "NUM_OPS",
    "NUM_LAYERS",
    "STAGES",
    "STRIDES",
    "STEM_CHANNELS",
    "STAGE_CHANNELS",
    "HEAD_CHANNELS",
    "IMAGE_CHANNELS",
    "IR_SPECS",
    "ArchLike",
    "parse_arch",
    "format_arch",
    "canonical",
    "is_canonical",
    "all_archs",
    "arch_index",
    "to_mask",
    "from_mask",
    "one_layer_edits",
    "neighbours",
    "scaled",
    "layer_channels",
    "InvertedResidual",
    "ReduceIdentity",
    "make_op",
    "MacroLayer",
    "MacroNetwork",
    "build_network",
    "supernet",
    "params",
    "flops",
    "layer_costs",
    "MacroRecord",
    "MacroTable",
    "lookup",
    "format_record",
    "table",
]
