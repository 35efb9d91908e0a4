"""Reader for the NAS-Bench-201 accuracy table shipped with the package.

``nb201_accuracy.csv.gz`` is the NATS-Bench topology benchmark (the successor of NAS-Bench-201, same
15,625 cells in the same index order), 200-epoch test accuracies averaged over training seeds.
Cite: Dong & Yang, "NAS-Bench-201", ICLR 2020; Dong et al., "NATS-Bench", TPAMI 2021.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
from importlib import resources

import numpy as np

TABLE_FILE = "nb201_accuracy.csv.gz"
COLUMNS = (
    "cifar10_test",
    "cifar100_test",
    "imagenet16_120_test",
    "cifar10_valid_valid",
    "cifar10_valid_test",
)


@functools.lru_cache(maxsize=1)
def load_table() -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """(arch strings in benchmark index order, {column: float64 array}). Read once, read-only."""
    raw = resources.files("tenas.bench").joinpath(TABLE_FILE).read_bytes()
    rows = list(csv.reader(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)), encoding="utf-8")))
    header, body = rows[0], rows[1:]
    idx = {name: i for i, name in enumerate(header)}
    if [int(r[idx["index"]]) for r in body] != list(range(len(body))):
        raise RuntimeError(f"{TABLE_FILE}: rows are not in index order")
    archs = tuple(r[idx["arch"]] for r in body)
    cols = {}
    for name in COLUMNS:
        arr = np.array([float(r[idx[name]]) for r in body], dtype=np.float64)
        arr.setflags(write=False)
        cols[name] = arr
    return archs, cols
