"""NAS-Bench-Macro's CIFAR-10 table (all 6,561 architectures), shipped as ``nb_macro_cifar10.csv.gz``.

Columns: arch, test_acc_1..3 (percent, three training runs), mean_acc, std, params, flops (see DATA.md).
Rows are in :func:`tenas.spaces.macro.strings.all_archs` order. Equivalent strings have identical rows.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import io
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

from tenas.spaces.macro.strings import ArchLike, all_archs, arch_index, canonical, format_arch

__all__ = ["TABLE_FILE", "MacroRecord", "MacroTable", "lookup", "format_record", "table"]

TABLE_FILE = "nb_macro_cifar10.csv.gz"
_HEADER = ["arch", "test_acc_1", "test_acc_2", "test_acc_3", "mean_acc", "std", "params", "flops"]


@dataclasses.dataclass(frozen=True)
class MacroRecord:
    """What NAS-Bench-Macro says about one architecture (accuracies in percent on CIFAR-10)."""

    arch: str
    canonical: str
    mean_acc: float
    test_acc: tuple[float, float, float]
    std: float
    params: int
    flops: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``test_acc`` as a list)."""
        d = dataclasses.asdict(self)
        d["test_acc"] = list(self.test_acc)
        return d


class MacroTable(NamedTuple):
    """The whole table as read-only arrays, one entry per architecture in :func:`all_archs` order."""

    arch: np.ndarray  # str, shape (6561,)
    mean_acc: np.ndarray  # float64
    params: np.ndarray  # int64
    flops: np.ndarray  # int64


def _frozen(arr: np.ndarray) -> np.ndarray:
    """``arr`` made read-only."""
    arr.setflags(write=False)
    return arr


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(arch, test_acc (N, 3), mean_acc, std, params/flops (N, 2)) from the packaged table, read once."""
    raw = resources.files("tenas.spaces.macro").joinpath(TABLE_FILE).read_bytes()
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    if rows[0] != _HEADER:
        raise RuntimeError(f"{TABLE_FILE}: unexpected header {rows[0]}")
    body = rows[1:]
    archs = tuple(r[0] for r in body)
    if archs != all_archs():
        raise RuntimeError(f"{TABLE_FILE}: rows are not the 6,561 architectures in product order")
    nums = np.array([[float(x) for x in r[1:6]] for r in body], dtype=np.float64)
    costs = np.array([[int(r[6]), int(r[7])] for r in body], dtype=np.int64)
    return (
        _frozen(np.array(archs)),
        _frozen(nums[:, 0:3].copy()),
        _frozen(nums[:, 3].copy()),
        _frozen(nums[:, 4].copy()),
        _frozen(costs),
    )


def table() -> MacroTable:
    """Arch strings, mean accuracy, params and FLOPs of all 6,561 architectures (read-only arrays)."""
    arch, _, mean_acc, _, costs = _load()
    return MacroTable(arch, mean_acc, _frozen(costs[:, 0].copy()), _frozen(costs[:, 1].copy()))


def lookup(arch: ArchLike) -> MacroRecord:
    """The benchmark's record of ``arch`` (a string or 8 digits / op names); ValueError if malformed."""
    index = arch_index(arch)
    archs, test_acc, mean_acc, std, costs = _load()
    return MacroRecord(
        arch=str(archs[index]),
        canonical=canonical(arch),
        mean_acc=float(mean_acc[index]),
        test_acc=tuple(float(a) for a in test_acc[index]),  # type: ignore[arg-type]
        std=float(std[index]),
        params=int(costs[index, 0]),
        flops=int(costs[index, 1]),
    )


def format_record(rec: MacroRecord, title: str = "NAS-Bench-Macro (CIFAR-10)") -> str:
    """A small human-readable table of a record (what ``tenas bench macro`` prints)."""
    runs = "".join(f"{a:>9.2f}" for a in rec.test_acc)
    return "\n".join(
        [
            f"{title} {format_arch(rec.arch)}",
            f"canonical  {rec.canonical}",
            f"{'test acc %':<11}{'run 1':>9}{'run 2':>9}{'run 3':>9}{'mean':>9}{'std':>8}",
            f"{'':<11}{runs}{rec.mean_acc:>9.2f}{rec.std:>8.3f}",
            f"params     {rec.params:,} ({rec.params / 1e6:.3f} M)",
            f"FLOPs      {rec.flops:,} ({rec.flops / 1e6:.2f} M)",
        ]
    )
