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
Anything malformed raises ``ValueError`` saying what is wrong.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any, NamedTuple, Union

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
        if not isinstance(op, str) or op not in ops:
            raise ValueError(f"{field}[{k}] = {pair!r}: unknown op {op!r}; ops are {', '.join(ops)}")
        node = k // 2 + 2
        if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < node:
            raise ValueError(
                f"{field}[{k}] = {pair!r}: node {node} (entries {2 * (node - 2)}-{2 * (node - 2) + 1}) may only "
                f"read states 0..{node - 1} (0, 1 = the previous two cells), got input {src!r}"
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


def validate_genotype(g: Any, ops: Sequence[str] = PRIMITIVES, steps: int = STEPS) -> Genotype:
    """A checked copy of ``g`` (a :class:`Genotype` or any 4-tuple in its field order, lists or tuples,
    ``range`` concat) with tuples inside; ``ValueError`` if malformed."""
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


def parse_genotype(text: str, ops: Sequence[str] = PRIMITIVES, steps: int = STEPS) -> Genotype:
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

#: Published genotypes by name (``tenas train --space darts DARTS_V2``).
NAMED: dict[str, Genotype] = {"DARTS_V1": DARTS_V1, "DARTS_V2": DARTS_V2, "DARTS": DARTS_V2}


def to_genotype(g: GenotypeLike) -> Genotype:
    """A validated genotype from a :class:`Genotype`, its text, or a published name (``"DARTS_V2"``)."""
    if isinstance(g, str):
        key = g.strip()
        if key in NAMED:
            return NAMED[key]
        if key.isidentifier():
            raise ValueError(f"unknown genotype name {key!r}; known: {', '.join(NAMED)} (or give {EXPECTED_FORM})")
        return parse_genotype(key)
    return validate_genotype(g)
