"""NAS-Bench-201 cells as data: op names, edges, the benchmark's cell strings, indices and alive masks."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Union

import numpy as np

OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges in string order as (to_node, from_node).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_CELLS = len(OP_NAMES) ** NUM_EDGES  # 15,625
EXPECTED_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|  with op in " + ", ".join(OP_NAMES)

#: A cell: the op name on each of the 6 edges, in string order.
Cell = tuple[str, ...]
ArchLike = Union[str, int, Sequence[str]]


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


def has_dead_op(arch: ArchLike) -> bool:
    """True when some op other than ``none`` lies on no input-to-output path of non-``none`` edges (its output never
    reaches the cell's output, or no input reaches it). 9,445 of the 15,625 cells have none; on those, FLOPs ranks
    with VKDNW's study's (CVPR 2025) tau, so that study evidently scores only them (benchmarks/studies/flops_gap.py)."""
    edge = dict(zip(EDGES, to_cell(arch)))
    reached = {0}  # nodes an input reaches
    for j in (1, 2, 3):
        if any(i in reached and edge[(j, i)] != "none" for i in range(j)):
            reached.add(j)
    reaching = {3}  # nodes that reach the output
    for i in (2, 1, 0):
        if any(j in reaching and edge[(j, i)] != "none" for j in range(i + 1, 4)):
            reaching.add(i)
    return any(op != "none" and not (i in reached and j in reaching) for (j, i), op in edge.items())


def full_mask(include_none: bool = False) -> np.ndarray:
    """The alive mask of the full supernet: every op on every edge (``none`` only if asked)."""
    mask = np.ones((NUM_EDGES, len(OP_NAMES)), dtype=bool)
    if not include_none:
        mask[:, OP_NAMES.index("none")] = False
    return mask


def genotype(alive: np.ndarray) -> str:
    """The cell string once every edge has exactly one alive op."""
    mask = np.asarray(alive, dtype=bool)
    counts = mask.sum(axis=1)
    if mask.shape != (NUM_EDGES, len(OP_NAMES)) or not (counts == 1).all():
        raise ValueError(f"genotype needs exactly one alive op per edge, got counts {counts.tolist()}")
    return format_arch([OP_NAMES[int(np.argmax(row))] for row in mask])
