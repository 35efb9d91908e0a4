"""DARTS genotypes: the final architecture of a DARTS-space search, as a plain named tuple.

The form is DARTS' own (``genotypes.py`` of Liu et al.)::

    Genotype(normal=[(op, input), ...], normal_concat=[2, 3, 4, 5],
             reduce=[(op, input), ...], reduce_concat=[2, 3, 4, 5])

A cell has two inputs (states 0 and 1: the outputs of the previous two cells) and ``STEPS = 4``
intermediate nodes (states 2..5). Entries ``2i`` and ``2i + 1`` of ``normal`` / ``reduce`` are the two
inputs of state ``i + 2``: an op name and the state it reads (``0 <= input < i + 2``). The cell's output
concatenates the states listed in ``*_concat``.

Genotypes are printed with :func:`format_genotype` (DARTS' text, lists and all) and read back with
:func:`parse_genotype`, which never evaluates code: the text is parsed into a syntax tree and only
literals (and ``range(a, b)`` for the concat lists, which many published genotypes use) are accepted.
Anything malformed raises ``ValueError`` saying what is wrong. A final cell holds no ``none`` (zero) op:
each node keeps two real inputs.

Published cells are known by name (:data:`PUBLISHED`, :func:`lookup_genotype`; any case, ``-`` for ``_``):
the TE-NAS paper's own CIFAR-10 and ImageNet cells and the usual references (DARTS, PC-DARTS, P-DARTS),
each with the repository file it was copied from and the sizes its paper reports.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union

#: DARTS' candidate ops (``PRIMITIVES``), in DARTS' order.
PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: The ops a final cell may use: all of :data:`PRIMITIVES` but ``none``.
CELL_OPS: tuple[str, ...] = tuple(op for op in PRIMITIVES if op != "none")
STEPS = 4  # intermediate nodes per cell
EXPECTED_FORM = (
    "Genotype(normal=[(op, input), ... 8 pairs], normal_concat=[2, 3, 4, 5], "
    "reduce=[(op, input), ... 8 pairs], reduce_concat=[2, 3, 4, 5])"
)
_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


class Genotype(NamedTuple):
    """A DARTS genotype. Validated instances (from :func:`to_genotype`) hold tuples; ``repr`` prints
    DARTS' list form, so ``parse_genotype(repr(g)) == g``."""

    normal: Sequence[tuple[str, int]]
    normal_concat: Sequence[int]
    reduce: Sequence[tuple[str, int]]
    reduce_concat: Sequence[int]

    def __repr__(self) -> str:
        return format_genotype(self)

    __str__ = __repr__


GenotypeLike = Union[str, Genotype]


# --------------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------------
def _check_cell(field: str, value: Any, ops: Sequence[str], steps: int) -> tuple[tuple[str, int], ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"genotype field {field!r} must be a list of (op, input) pairs, got {value!r}")
    if len(value) != 2 * steps:
        raise ValueError(
            f"genotype field {field!r} has {len(value)} entries, expected {2 * steps} "
            f"(two (op, input) pairs for each of the {steps} intermediate nodes)"
        )
    out: list[tuple[str, int]] = []
    for k, pair in enumerate(value):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"{field}[{k}] = {pair!r} is not an (op, input) pair")
        op, src = pair
        if op == "none" and op not in ops:
            raise ValueError(f"{field}[{k}] = {pair!r}: op 'none' (the zero op) cannot be in a final DARTS cell, "
                             f"whose nodes keep two real inputs; ops are {', '.join(ops)}")
        if not isinstance(op, str) or op not in ops:
            raise ValueError(f"{field}[{k}] = {pair!r}: unknown op {op!r}; ops are {', '.join(ops)}")
        node = k // 2 + 2
        if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < node:
            what = ""
            if isinstance(src, int) and not isinstance(src, bool):
                what = (" (the node's own output)" if src == node else
                        " (a node computed after it)" if node < src < steps + 2 else
                        f" (no such state: a cell has states 0..{steps + 1})")
            raise ValueError(
                f"{field}[{k}] = {pair!r}: node {node} (entries {2 * (node - 2)}-{2 * (node - 2) + 1}) may only "
                f"read states 0..{node - 1} (0, 1 = the previous two cells), got input {src!r}{what}"
            )
        if k % 2 == 1 and out[-1] == (op, src):
            raise ValueError(f"{field}[{k - 1}:{k + 1}]: node {node} lists ({op!r}, {src}) twice")
        out.append((op, src))
    return tuple(out)


def _check_concat(field: str, value: Any, steps: int) -> tuple[int, ...]:
    if isinstance(value, range):
        value = list(value)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"genotype field {field!r} must be a non-empty list of node indices, got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v < steps + 2:
            raise ValueError(f"genotype field {field!r} = {list(value)!r}: entries must be nodes 2..{steps + 1}")
    if len(set(value)) != len(value):
        raise ValueError(f"genotype field {field!r} = {list(value)!r} repeats a node")
    return tuple(value)


def validate_genotype(g: Any, ops: Sequence[str] = CELL_OPS, steps: int = STEPS) -> Genotype:
    """A checked copy of ``g`` (a :class:`Genotype` or any 4-tuple in its field order, lists or tuples,
    ``range`` concat) with tuples inside; ``ValueError`` naming the first thing wrong: not ``2 * steps``
    (op, input) pairs per cell, an input that is not an earlier state, an op outside ``ops`` (by default
    every op but ``none``), a node listing one pair twice, a bad concat list."""
    if not isinstance(g, tuple) or len(g) != 4:
        raise ValueError(f"a genotype must be a Genotype (4 fields: {', '.join(_FIELDS)}), got {g!r}")
    normal, normal_concat, reduce, reduce_concat = g
    return Genotype(
        normal=_check_cell("normal", normal, ops, steps),
        normal_concat=_check_concat("normal_concat", normal_concat, steps),
        reduce=_check_cell("reduce", reduce, ops, steps),
        reduce_concat=_check_concat("reduce_concat", reduce_concat, steps),
    )


# --------------------------------------------------------------------------------------------------
# text
# --------------------------------------------------------------------------------------------------
def format_genotype(g: Genotype) -> str:
    """DARTS' text of a genotype: ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)``."""

    def cell(pairs: Sequence[tuple[str, int]]) -> str:
        return "[" + ", ".join(f"({op!r}, {int(src)})" for op, src in pairs) + "]"

    def concat(nodes: Sequence[int]) -> str:
        return "[" + ", ".join(str(int(n)) for n in nodes) + "]"

    normal, normal_concat, reduce, reduce_concat = g
    return (
        f"Genotype(normal={cell(normal)}, normal_concat={concat(normal_concat)}, "
        f"reduce={cell(reduce)}, reduce_concat={concat(reduce_concat)})"
    )


def _literal(node: ast.AST, field: str) -> Any:
    """A literal, or ``range(a[, b])`` of integer literals (concat fields only)."""
    if isinstance(node, ast.Call):
        if (
            field.endswith("_concat")
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
            and not node.keywords
            and 1 <= len(node.args) <= 2
        ):
            args = [_literal(a, field) for a in node.args]
            if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                return list(range(*args))
        raise ValueError(f"genotype field {field!r}: only literals (and range(a, b) for concat) are allowed")
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"genotype field {field!r} is not a literal: {exc}") from None


def parse_genotype(text: str, ops: Sequence[str] = CELL_OPS, steps: int = STEPS) -> Genotype:
    """Read DARTS' genotype text (keyword or positional fields) without evaluating any code."""
    if not isinstance(text, str):
        raise ValueError(f"a genotype text must be a string, got {type(text).__name__}")
    source = text.strip()
    if len(source) > 100_000:
        raise ValueError("genotype text is implausibly long (over 100,000 characters)")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse genotype {source[:80]!r}: {exc.msg}; expected {EXPECTED_FORM}") from None
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Genotype"):
        raise ValueError(f"genotype text must be a single Genotype(...) call; expected {EXPECTED_FORM}")
    values: dict[str, Any] = {}
    if len(call.args) > len(_FIELDS):
        raise ValueError(f"Genotype(...) takes at most {len(_FIELDS)} fields, got {len(call.args)} positional")
    for name, arg in zip(_FIELDS, call.args):
        values[name] = _literal(arg, name)
    for kw in call.keywords:
        if kw.arg is None or kw.arg not in _FIELDS:
            raise ValueError(f"unknown genotype field {kw.arg!r}; fields are {', '.join(_FIELDS)}")
        if kw.arg in values:
            raise ValueError(f"genotype field {kw.arg!r} given twice")
        values[kw.arg] = _literal(kw.value, kw.arg)
    missing = [f for f in _FIELDS if f not in values]
    if missing:
        raise ValueError(f"genotype is missing field(s) {', '.join(missing)}; expected {EXPECTED_FORM}")
    return validate_genotype(tuple(values[f] for f in _FIELDS), ops=ops, steps=steps)


# --------------------------------------------------------------------------------------------------
# published genotypes
# --------------------------------------------------------------------------------------------------
# Each cell below is copied pair by pair from the repository file named in its ``source``, and was checked
# against that file twice, op by op. Sizes ("published") are the evaluation networks' parameter counts as
# the papers print them (auxiliary head excluded, DARTS' ``count_parameters_in_MB``): CIFAR-10 = 36
# channels, 20 cells; ImageNet = the mobile setting, 48 channels, 14 cells. The TE-NAS paper is
# Chen, Gong & Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically Inspired
# Perspective", ICLR 2021 (arXiv:2102.11535); its Table 2 (CIFAR-10) and Table 3 (ImageNet) list all the
# methods below. Not taken: NASNet and AmoebaNet (in every one of these files) have 5 nodes per cell and
# ops outside this op table (sep_conv_7x7, conv_7x1_1x7); DARTS_evaluation's other cells (TEGNAS_*,
# TE_DAG_*, WOT_*) are not the TE-NAS paper's (the WOT ones hold 'none' ops and repeated pairs).
# The TE-NAS cells come from DARTS_evaluation, the evaluation repository the TE-NAS README (VITA-Group/TENAS,
# "2. Evaluation") points to and where its authors answer that the searched genotypes are (VITA-Group/TENAS
# issue #5); those two lines of its genotypes.py are unchanged since commit 54d479f (Dec 2020).

_DARTS_REPO = "github.com/quark0/darts cnn/genotypes.py (commit f276dd3)"
_PC_DARTS_REPO = "github.com/yuhuixu1993/PC-DARTS genotypes.py (commit b74702f)"
_PDARTS_REPO = "github.com/chenxin061/pdarts genotypes.py (commit b880e87)"
_TENAS_REPO = "github.com/chenwydj/DARTS_evaluation genotypes.py (commit f53b2b6)"
_TENAS_PAPER = "TE-NAS paper (ICLR 2021)"

#: DARTS (first order), from DARTS' ``genotypes.py``.
DARTS_V1 = validate_genotype(
    Genotype(
        normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
                ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
                ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
        reduce_concat=[2, 3, 4, 5],
    )
)

#: DARTS (second order), the published CIFAR-10 cell (3.3 M parameters, 2.76 % test error).
DARTS_V2 = validate_genotype(
    Genotype(
        normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
        reduce_concat=[2, 3, 4, 5],
    )
)

#: PC-DARTS' CIFAR-10 cell (``PC_DARTS_cifar``).
PC_DARTS = validate_genotype(
    Genotype(
        normal=[("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
                ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
        normal_concat=range(2, 6),
        reduce=[("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
                ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
        reduce_concat=range(2, 6),
    )
)

#: PC-DARTS' cell searched on ImageNet (``PC_DARTS_image``).
PC_DARTS_IMAGENET = validate_genotype(
    Genotype(
        normal=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
                ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
        normal_concat=range(2, 6),
        reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
                ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
        reduce_concat=range(2, 6),
    )
)

#: P-DARTS' CIFAR-10 cell (``PDARTS``).
PDARTS = validate_genotype(
    Genotype(
        normal=[("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1),
                ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
        normal_concat=range(2, 6),
        reduce=[("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2),
                ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
        reduce_concat=range(2, 6),
    )
)

#: TE-NAS' cell searched on CIFAR-10 (``TENAS_cifar10``).
TENAS_CIFAR10 = validate_genotype(
    Genotype(
        normal=[("dil_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2),
                ("skip_connect", 0), ("dil_conv_5x5", 1), ("sep_conv_3x3", 1), ("sep_conv_5x5", 3)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
                ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 2), ("sep_conv_3x3", 4)],
        reduce_concat=[2, 3, 4, 5],
    )
)

#: TE-NAS' cell searched on ImageNet (``TENAS_imagenet``).
TENAS_IMAGENET = validate_genotype(
    Genotype(
        normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 1), ("sep_conv_3x3", 2),
                ("sep_conv_3x3", 0), ("dil_conv_5x5", 3), ("sep_conv_3x3", 0), ("dil_conv_3x3", 4)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("dil_conv_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_3x3", 0), ("sep_conv_3x3", 2),
                ("sep_conv_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 4)],
        reduce_concat=[2, 3, 4, 5],
    )
)


@dataclass(frozen=True)
class PublishedGenotype:
    """A named published cell: where it comes from and the evaluation-network sizes its paper reports."""

    name: str
    genotype: Genotype
    method: str  #: the paper: method, authors, venue
    searched_on: str  #: "CIFAR-10" or "ImageNet"
    source: str  #: the repository file the pairs were copied from (and the name they have there)
    cifar10_params_m: Optional[float] = None  #: published CIFAR-10 evaluation-network size (M parameters)
    imagenet_params_m: Optional[float] = None  #: published ImageNet (mobile) evaluation-network size
    params_source: str = ""  #: where those sizes are printed
    note: str = ""


PUBLISHED: dict[str, PublishedGenotype] = {
    p.name: p
    for p in (
        PublishedGenotype(
            "TENAS_CIFAR10", TENAS_CIFAR10, "TE-NAS (Chen, Gong & Wang, ICLR 2021)", "CIFAR-10",
            f"{_TENAS_REPO}: TENAS_cifar10", cifar10_params_m=3.8, imagenet_params_m=6.3,
            params_source=f"{_TENAS_PAPER} Tables 2 and 3 ('TE-NAS (ours)' searched on CIFAR-10)",
            note="measures 4.14 M (DARTS_evaluation's network code builds the same layers), not the paper's 3.8 M; "
                 "on ImageNet the paper tuned the channel number to the mobile setting",
        ),
        PublishedGenotype(
            "TENAS_IMAGENET", TENAS_IMAGENET, "TE-NAS (Chen, Gong & Wang, ICLR 2021)", "ImageNet",
            f"{_TENAS_REPO}: TENAS_imagenet", imagenet_params_m=5.4,
            params_source=f"{_TENAS_PAPER} Table 3 ('TE-NAS (ours)', searched on ImageNet)",
        ),
        PublishedGenotype(
            "DARTS_V1", DARTS_V1, "DARTS, first order (Liu, Simonyan & Yang, ICLR 2019)", "CIFAR-10",
            f"{_DARTS_REPO}: DARTS_V1", cifar10_params_m=3.3,
            params_source="PC-DARTS README results table ('DARTSV1'); TE-NAS paper Table 2 ('DARTS (1st)')",
            note="measures 3.17 M; 3.3 M is the size printed for first-order DARTS",
        ),
        PublishedGenotype(
            "DARTS_V2", DARTS_V2, "DARTS, second order (Liu, Simonyan & Yang, ICLR 2019)", "CIFAR-10",
            f"{_DARTS_REPO}: DARTS_V2 (= DARTS)", cifar10_params_m=3.3, imagenet_params_m=4.7,
            params_source="DARTS README (quark0/darts: '3.3M model params', ImageNet '4.7M'); "
                          "TE-NAS paper Tables 2 and 3 ('DARTS (2nd)')",
        ),
        PublishedGenotype(
            "PC_DARTS", PC_DARTS, "PC-DARTS (Xu et al., ICLR 2020)", "CIFAR-10",
            f"{_PC_DARTS_REPO}: PC_DARTS_cifar", cifar10_params_m=3.6, imagenet_params_m=5.3,
            params_source="PC-DARTS README results table; TE-NAS paper Tables 2 and 3 ('PC-DARTS (CIFAR-10)')",
        ),
        PublishedGenotype(
            "PC_DARTS_IMAGENET", PC_DARTS_IMAGENET, "PC-DARTS (Xu et al., ICLR 2020)", "ImageNet",
            f"{_PC_DARTS_REPO}: PC_DARTS_image", imagenet_params_m=5.3,
            params_source="TE-NAS paper Table 3 ('PC-DARTS (ImageNet)')",
        ),
        PublishedGenotype(
            "PDARTS", PDARTS, "P-DARTS (Chen, Xie, Wu & Tian, ICCV 2019)", "CIFAR-10",
            f"{_PDARTS_REPO}: PDARTS", cifar10_params_m=3.4, imagenet_params_m=4.9,
            params_source="TE-NAS paper Tables 2 and 3 ('P-DARTS (CIFAR-10)')",
            note="the P-DARTS README pictures cells of another search run than the paper's; this one's size "
                 "matches the paper's",
        ),
    )
}

#: Other spellings of the names above (the names the source files use, and the DARTS default).
ALIASES: dict[str, str] = {
    "DARTS": "DARTS_V2",
    "PCDARTS": "PC_DARTS",
    "PC_DARTS_CIFAR": "PC_DARTS",
    "PC_DARTS_IMAGE": "PC_DARTS_IMAGENET",
    "P_DARTS": "PDARTS",
}

#: Published genotypes by name, aliases included (``tenas train --space darts DARTS_V2``).
NAMED: dict[str, Genotype] = {
    **{name: p.genotype for name, p in PUBLISHED.items()},
    **{alias: PUBLISHED[name].genotype for alias, name in ALIASES.items()},
}


def _name_key(name: str) -> str:
    return name.strip().upper().replace("-", "_").replace(" ", "_")


def known_names() -> str:
    """The names :func:`lookup_genotype` knows, for messages."""
    aliases = ", ".join(f"{a} = {n}" for a, n in ALIASES.items())
    return f"{', '.join(PUBLISHED)} (also {aliases}; any case)"


def lookup_genotype(name: str) -> PublishedGenotype:
    """The published cell called ``name`` (any case; ``-`` or a space for ``_``); ``ValueError`` listing the
    known names otherwise."""
    key = _name_key(name)
    key = ALIASES.get(key, key)
    if key not in PUBLISHED:
        raise ValueError(f"unknown genotype name {name.strip()!r}; known names: {known_names()}")
    return PUBLISHED[key]


def random_genotype(seed: int) -> Genotype:
    """A random DARTS cell pair, the usual random baseline: in each cell, every node reads two distinct earlier
    states (uniform among the pairs) through ops drawn uniformly from :data:`CELL_OPS`; the same seed, the same cell."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cells = []
    for _ in range(2):  # normal, reduce
        pairs = []
        for node in range(STEPS):
            inputs = sorted(int(i) for i in rng.choice(node + 2, size=2, replace=False))
            pairs += [(CELL_OPS[int(rng.integers(len(CELL_OPS)))], i) for i in inputs]
        cells.append(pairs)
    concat = list(range(2, 2 + STEPS))
    return validate_genotype(Genotype(cells[0], concat, cells[1], concat))


def to_genotype(g: GenotypeLike) -> Genotype:
    """A validated genotype from a :class:`Genotype`, its text, or a published name (``"DARTS_V2"``, any case)."""
    if isinstance(g, str):
        key = g.strip()
        if not key:
            raise ValueError(f"empty genotype: give a published name ({known_names()}) or {EXPECTED_FORM}")
        if "(" not in key:  # a name, not a genotype text
            return lookup_genotype(key).genotype
        return parse_genotype(key)
    return validate_genotype(g)


def published_table() -> str:
    """The table ``tenas train --list`` prints: each published DARTS cell, the parameters of its CIFAR-10
    evaluation network (measured here and as published), where it was copied from."""
    from tenas.spaces import darts  # (darts imports this module)

    lines = [
        "Published DARTS cells: tenas train NAME --space darts (any case; '-' for '_').",
        "PARAMS: M parameters of the CIFAR-10 evaluation network (36 channels, 20 cells, auxiliary head excluded),",
        "measured here / as the paper prints it ('-': the paper gives none).",
        "",
        f"{'NAME':<19}{'SEARCHED ON':<13}{'PARAMS':>7}{'PAPER':>7}  METHOD",
    ]
    for name, p in PUBLISHED.items():
        params = darts.count_parameters(darts.build_network(p.genotype, C=36, layers=20, auxiliary=False)) / 1e6
        paper = "-" if p.cifar10_params_m is None else f"{p.cifar10_params_m:.1f}"
        lines.append(f"{name:<19}{p.searched_on:<13}{params:>7.2f}{paper:>7}  {p.method}")
        lines.append(f"{'':<21}source: {p.source}")
        if p.params_source:
            lines.append(f"{'':<21}sizes:  {p.params_source}")
        if p.note:
            lines.append(f"{'':<21}note:   {p.note}")
    lines.append("")
    lines.append("aliases: " + ", ".join(f"{a} = {n}" for a, n in ALIASES.items()))
    return "\n".join(lines)
