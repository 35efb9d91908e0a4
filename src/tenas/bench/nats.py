"""Adapter for users who own the official NATS-Bench (topology) or NAS-Bench-201 benchmark files.

``NatsBenchSource(path_or_api)`` answers the same :class:`~tenas.bench.nb201.BenchRecord` as
:func:`tenas.bench.nb201.lookup`, with the accuracies read from the official API instead of the table
shipped with tenas:

* given an API object (anything with ``query_index_by_arch(arch)`` and
  ``get_more_info(index, dataset, hp=..., is_random=...)``, e.g. what ``nats_bench.create`` returns),
  it uses it as is;
* given a path, it imports ``nats_bench`` (or ``nas_201_api`` for a NAS-Bench-201 ``.pth`` file) only
  then, and builds the API from the path (a directory = NATS "fast mode" archive, a file = the pickle).
  Nothing is imported or unpickled when this module is imported.

Accuracies: ``get_more_info(index, dataset, hp="200", is_random=False)`` (the mean over training
seeds); "test-accuracy" of "cifar10" / "cifar100" / "ImageNet16-120", and "valid-accuracy" /
"test-accuracy" of "cifar10-valid". Parameters and FLOPs are computed by tenas
(:func:`tenas.bench.nb201.costs`), with the benchmark's conventions, rather than read from the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tenas.bench.nb201 import BenchRecord, cell_of, costs
from tenas.spaces.nb201 import ArchLike, format_arch

__all__ = ["NatsBenchSource", "open_api"]

#: BenchRecord field -> (benchmark dataset, key of get_more_info's answer)
ACCURACY_FIELDS: dict[str, tuple[str, str]] = {
    "cifar10_test": ("cifar10", "test-accuracy"),
    "cifar100_test": ("cifar100", "test-accuracy"),
    "imagenet16_120_test": ("ImageNet16-120", "test-accuracy"),
    "cifar10_valid_valid": ("cifar10-valid", "valid-accuracy"),
    "cifar10_valid_test": ("cifar10-valid", "test-accuracy"),
}

_API_METHODS = ("query_index_by_arch", "get_more_info")


def open_api(path: str | os.PathLike) -> Any:
    """Create the official API object from a benchmark file or fast-mode directory (imports lazily)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"NATS-Bench / NAS-Bench-201 benchmark not found: {p}")
    if p.is_file() and p.suffix == ".pth":  # the original NAS-Bench-201 file (e.g. NAS-Bench-201-v1_1-096897.pth)
        try:
            from nas_201_api import NASBench201API  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ImportError(
                f"reading {p} needs the 'nas-bench-201' package (pip install nas-bench-201), which is not "
                "installed; or create the API yourself and pass the object to NatsBenchSource"
            ) from exc
        return NASBench201API(str(p), verbose=False)
    try:
        import nats_bench  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            f"reading {p} needs the 'nats_bench' package (pip install nats_bench), which is not installed; "
            "or create the API yourself and pass the object to NatsBenchSource"
        ) from exc
    return nats_bench.create(str(p), "tss", fast_mode=p.is_dir(), verbose=False)


class NatsBenchSource:
    """Benchmark records from the official NATS-Bench topology / NAS-Bench-201 API.

    ``hp`` is the training schedule ("200" epochs, as in the paper and in the shipped table; NATS-Bench
    also has "12", and for some cells "01"/"90").
    """

    def __init__(self, path_or_api: Any, hp: str = "200"):
        if isinstance(path_or_api, (str, os.PathLike)):
            self.api = open_api(path_or_api)
        else:
            missing = [m for m in _API_METHODS if not callable(getattr(path_or_api, m, None))]
            if missing:
                raise TypeError(
                    f"NatsBenchSource needs a path or an API object with {' and '.join(_API_METHODS)}; "
                    f"{type(path_or_api).__name__} lacks {', '.join(missing)}"
                )
            self.api = path_or_api
        self.hp = str(hp)

    def index_of(self, arch: ArchLike) -> int:
        """The API's index of a cell; ``ValueError`` if the benchmark does not know it."""
        arch_str = format_arch(cell_of(arch))
        index = self.api.query_index_by_arch(arch_str)
        if index is None or int(index) < 0:
            raise ValueError(f"cell {arch_str} is not in the NATS-Bench / NAS-Bench-201 benchmark")
        return int(index)

    def lookup(self, arch_or_index: ArchLike) -> BenchRecord:
        """The record of a cell string, benchmark index or 6 op names (malformed input: ``ValueError``)."""
        cell = cell_of(arch_or_index)
        arch_str = format_arch(cell)
        index = self.index_of(cell)
        infos: dict[str, dict] = {}
        values: dict[str, float] = {}
        for field, (dataset, key) in ACCURACY_FIELDS.items():
            if dataset not in infos:
                infos[dataset] = self.api.get_more_info(index, dataset, hp=self.hp, is_random=False)
            info = infos[dataset]
            if key not in info or info[key] is None:
                raise ValueError(
                    f"the benchmark has no {key!r} for {dataset!r} (hp={self.hp}) of cell #{index} {arch_str}"
                )
            values[field] = float(info[key])
        return BenchRecord(index=index, arch=arch_str, **values, **costs(cell))
