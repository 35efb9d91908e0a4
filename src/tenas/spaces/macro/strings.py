"""NAS-Bench-Macro architecture strings: parsing, canonical forms, masks and one-layer neighbours.

An architecture is 8 digits, one per searchable layer in network order: ``0`` identity, ``1`` inverted
residual kernel 3 expansion 3, ``2`` inverted residual kernel 5 expansion 6 (e.g. ``"22212220"``).
The layers form 3 stages of 2, 3 and 3 layers; the first layer of a stage has stride 2 and doubles the
channels. Inside a stage an identity after the first layer changes nothing but the layer order, so
strings that differ only by where those identities sit are the same network (:func:`canonical`).
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Sequence
from typing import Union

import numpy as np

from tenas.spaces.base import scaled

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
]

#: candidate ops, by digit
OP_NAMES: tuple[str, ...] = ("identity", "ir_k3_e3", "ir_k5_e6")
NUM_OPS = len(OP_NAMES)
NUM_LAYERS = 8
#: layer indices of each stage
STAGES: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3, 4), (5, 6, 7))
#: stride of each layer (2 on a stage's first layer)
STRIDES: tuple[int, ...] = tuple(2 if i == stage[0] else 1 for stage in STAGES for i in stage)
#: the channel plan at width 1: stem output, each stage's output, head (last 1x1 conv) output
STEM_CHANNELS = 32
STAGE_CHANNELS: tuple[int, ...] = (64, 128, 256)
HEAD_CHANNELS = 1280
IMAGE_CHANNELS = 3
#: inverted residual ops: name -> (kernel size, expansion ratio)
IR_SPECS: dict[str, tuple[int, int]] = {"ir_k3_e3": (3, 3), "ir_k5_e6": (5, 6)}

ArchLike = Union[str, Sequence[Union[int, str]]]

_EXPECTED = (
    f"expected {NUM_LAYERS} digits 0-2, one per layer: "
    + ", ".join(f"{d} {name}" for d, name in enumerate(OP_NAMES))
    + " (e.g. '22212220')"
)


def _malformed(arch: object) -> ValueError:
    """The one error for any malformed architecture."""
    return ValueError(f"malformed NAS-Bench-Macro architecture {arch!r}: {_EXPECTED}")


def _digit(item: object) -> int:
    """One layer's op as a digit, from a digit, a digit character or an op name; ValueError otherwise."""
    if isinstance(item, str):
        if item in OP_NAMES:
            return OP_NAMES.index(item)
        if len(item) == 1 and item in "012":
            return int(item)
        raise ValueError(item)
    if isinstance(item, (bool, np.bool_)):
        raise ValueError(item)
    value = operator.index(item)  # TypeError for floats and other non-integers
    if not 0 <= value < NUM_OPS:
        raise ValueError(item)
    return value


def parse_arch(arch: ArchLike) -> tuple[int, ...]:
    """The 8 op digits of an 8-digit string or a sequence of 8 digits / op names; ValueError if malformed."""
    if isinstance(arch, str):
        text = arch.strip()
        if len(text) != NUM_LAYERS or any(c not in "012" for c in text):
            raise _malformed(arch)
        return tuple(ord(c) - 48 for c in text)
    if not isinstance(arch, (Sequence, np.ndarray)) or len(arch) != NUM_LAYERS:
        raise _malformed(arch)
    try:
        return tuple(_digit(item) for item in arch)
    except (TypeError, ValueError):
        raise _malformed(arch) from None


def format_arch(ops: ArchLike) -> str:
    """The 8-digit string of an architecture (anything :func:`parse_arch` accepts)."""
    return "".join(map(str, parse_arch(ops)))


def _canonical_digits(digits: Sequence[int]) -> tuple[int, ...]:
    """Canonical digits: in each stage, identities after the first layer moved behind the other layers."""
    out = list(digits)
    for stage in STAGES:
        rest = [digits[i] for i in stage[1:]]
        ordered = [d for d in rest if d != 0] + [d for d in rest if d == 0]
        for i, d in zip(stage[1:], ordered):
            out[i] = d
    return tuple(out)


def canonical(arch: ArchLike) -> str:
    """The representative string of ``arch``'s equivalence class (e.g. '22212202' -> '22212220')."""
    return "".join(map(str, _canonical_digits(parse_arch(arch))))


def is_canonical(arch: ArchLike) -> bool:
    """Whether ``arch`` is its own canonical form."""
    digits = parse_arch(arch)
    return _canonical_digits(digits) == digits


@functools.lru_cache(maxsize=1)
def all_archs() -> tuple[str, ...]:
    """All 6,561 strings in ``itertools.product`` order (the benchmark's row order)."""
    return tuple("".join(p) for p in itertools.product("012", repeat=NUM_LAYERS))


def arch_index(arch: ArchLike) -> int:
    """Position of ``arch`` in :func:`all_archs` (the string read as a base-3 number)."""
    return int(format_arch(arch), 3)


def to_mask(arch: ArchLike) -> np.ndarray:
    """Boolean (8, 3) mask with the chosen op of each layer set."""
    mask = np.zeros((NUM_LAYERS, NUM_OPS), dtype=bool)
    mask[np.arange(NUM_LAYERS), list(parse_arch(arch))] = True
    return mask


def from_mask(mask: object) -> str:
    """The string of a (8, 3) (or (1, 8, 3)) mask with exactly one True per layer; ValueError otherwise."""
    arr = np.asarray(mask)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != (NUM_LAYERS, NUM_OPS):
        raise ValueError(f"a NAS-Bench-Macro mask has shape ({NUM_LAYERS}, {NUM_OPS}), got {np.shape(mask)}")
    arr = arr.astype(bool)
    counts = arr.sum(axis=1)
    if not np.all(counts == 1):
        bad = [int(i) for i in np.flatnonzero(counts != 1)]
        raise ValueError(f"a mask needs exactly one op per layer to be a single architecture; layers {bad} have not")
    return "".join(str(int(d)) for d in arr.argmax(axis=1))


def one_layer_edits(arch: ArchLike) -> list[str]:
    """The 16 strings that differ from ``arch`` in exactly one layer (layer by layer, digit order)."""
    digits = parse_arch(arch)
    out = []
    for i, d in enumerate(digits):
        for new in range(NUM_OPS):
            if new != d:
                out.append("".join(map(str, digits[:i] + (new,) + digits[i + 1 :])))
    return out


def neighbours(arch: ArchLike) -> list[str]:
    """Canonical forms of :func:`one_layer_edits`, de-duplicated, without ``arch``'s own canonical form."""
    own = canonical(arch)
    seen: dict[str, None] = {}
    for edit in one_layer_edits(arch):
        c = canonical(edit)
        if c != own:
            seen.setdefault(c)
    return list(seen)


def layer_channels(width: float = 1.0, in_channels: int | None = None) -> tuple[tuple[int, int, int], ...]:
    """(in channels, out channels, stride) of each of the 8 layers; ``in_channels`` overrides the stem's."""
    c_in = scaled(STEM_CHANNELS, width) if in_channels is None else int(in_channels)
    plan = []
    for stage, c in zip(STAGES, STAGE_CHANNELS):
        c_out = scaled(c, width)
        for i in stage:
            plan.append((c_in, c_out, STRIDES[i]))
            c_in = c_out
    return tuple(plan)
