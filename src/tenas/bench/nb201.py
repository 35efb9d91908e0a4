"""The NAS-Bench-201 answer for a cell: accuracies from the shipped table, parameters and FLOPs computed.

Accuracies (percent, 200-epoch schedule, averaged over the benchmark's training seeds) come from
``nb201_accuracy.csv.gz`` (see :mod:`tenas.bench._table`). Parameter counts and FLOPs are not in the
table: they are computed from :func:`tenas.spaces.nb201.build_network` (C=16, N=5) with
:func:`tenas.spaces.nb201.count_parameters` and :func:`tenas.spaces.flops.count_flops`, which follow the
benchmark's own conventions (all parameters; conv/linear multiply-adds per image).

Example::

    rec = lookup("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    rec.cifar10_test, rec.params_cifar10, rec.to_dict()
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import torch

from tenas.spaces.nb201 import ArchLike, Cell, arch_to_index, build_network, count_parameters, format_arch, to_cell

__all__ = ["BenchRecord", "DATASETS", "lookup", "costs", "format_record"]

#: (dataset name as the benchmark spells it, number of classes, input side in pixels)
DATASETS: tuple[tuple[str, int, int], ...] = (
    ("cifar10", 10, 32),
    ("cifar100", 100, 32),
    ("ImageNet16-120", 120, 16),
)


@dataclasses.dataclass(frozen=True)
class BenchRecord:
    """What NAS-Bench-201 says about one cell. Accuracies in percent; params and FLOPs in millions.

    ``cifar10_valid_*`` is the benchmark's "cifar10-valid" setting (trained on 25k images, evaluated on
    the 25k held-out split and on the test set). FLOPs are per image: CIFAR at 32x32 (10 and 100
    classes), ImageNet16-120 at 16x16.
    """

    index: int
    arch: str
    cifar10_test: float
    cifar100_test: float
    imagenet16_120_test: float
    cifar10_valid_valid: float
    cifar10_valid_test: float
    params_cifar10: float
    params_cifar100: float
    params_imagenet16_120: float
    flops_cifar10: float
    flops_cifar100: float
    flops_imagenet16_120: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (field name -> int / str / float)."""
        return dataclasses.asdict(self)


def cell_of(arch: ArchLike) -> Cell:
    """:func:`tenas.spaces.nb201.to_cell`, with any unusable input reported as ``ValueError``."""
    try:
        return to_cell(arch)
    except TypeError:
        raise ValueError(
            f"a NAS-Bench-201 cell is a string, an index or 6 op names, got {type(arch).__name__}: {arch!r}"
        ) from None


@functools.lru_cache(maxsize=256)
def _costs(cell: Cell) -> dict[str, float]:
    from tenas.spaces.flops import count_flops

    out: dict[str, float] = {}
    # Three batch-1 forwards of a small network: one intra-op thread is faster than several, and much
    # faster on a busy machine (thread oversubscription). The setting is restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, classes, side in DATASETS:
            key = name.lower().replace("-", "_")
            net = build_network(cell, num_classes=classes)
            out[f"params_{key}"] = count_parameters(net) / 1e6
            out[f"flops_{key}"] = count_flops(net, (1, 3, side, side))
    finally:
        torch.set_num_threads(threads)
    return out


def costs(arch: ArchLike) -> dict[str, float]:
    """``params_<dataset>`` and ``flops_<dataset>`` (millions) of a cell's evaluation network."""
    return dict(_costs(cell_of(arch)))


def lookup(arch_or_index: ArchLike) -> BenchRecord:
    """The benchmark's record for a cell string, a benchmark index (int or digit string) or 6 op names.

    A malformed cell string raises ``ValueError`` saying what is wrong; an index outside 0..15624 too.
    """
    from tenas.bench._table import load_table

    cell = cell_of(arch_or_index)
    index = arch_to_index(cell)
    archs, cols = load_table()
    return BenchRecord(
        index=index,
        arch=format_arch(cell),
        cifar10_test=float(cols["cifar10_test"][index]),
        cifar100_test=float(cols["cifar100_test"][index]),
        imagenet16_120_test=float(cols["imagenet16_120_test"][index]),
        cifar10_valid_valid=float(cols["cifar10_valid_valid"][index]),
        cifar10_valid_test=float(cols["cifar10_valid_test"][index]),
        **_costs(cell),
    )


def format_record(rec: BenchRecord, title: str = "NAS-Bench-201") -> str:
    """A small human-readable table of a record (what ``tenas bench`` prints)."""
    rows = [
        ("cifar10-valid", rec.cifar10_valid_valid, rec.cifar10_valid_test, rec.params_cifar10, rec.flops_cifar10),
        ("cifar10", None, rec.cifar10_test, rec.params_cifar10, rec.flops_cifar10),
        ("cifar100", None, rec.cifar100_test, rec.params_cifar100, rec.flops_cifar100),
        ("ImageNet16-120", None, rec.imagenet16_120_test, rec.params_imagenet16_120, rec.flops_imagenet16_120),
    ]

    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    lines = [
        f"{title} #{rec.index}",
        f"arch {rec.arch}",
        f"{'dataset':<16}{'valid acc %':>12}{'test acc %':>12}{'params M':>11}{'FLOPs M':>11}",
    ]
    for name, valid, test, params, flops in rows:
        lines.append(f"{name:<16}{num(valid, '.2f'):>12}{num(test, '.2f'):>12}{params:>11.6f}{flops:>11.5f}")
    return "\n".join(lines)
