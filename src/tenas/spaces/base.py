"""The search-space contract: everything the pruner, the local search, budgets, ``tenas bench`` / ``correlate``
and the CLI ask of a space. A space is a plug-in; nothing outside :mod:`tenas.spaces` knows a concrete one.

**Choice points and masks.** A space has ``cell_types`` (NAS-Bench-201: one cell, DARTS: normal + reduce, a
macro space: one "network") with ``num_edges`` choice points each (edges of a cell, or layers of a network),
and ``op_names`` candidates per choice point. An *alive mask* is a bool array of shape
``(len(cell_types), num_edges, len(op_names))``; ``mask[t, e, k]`` says op ``k`` is still a candidate on choice
point ``e`` of cell type ``t``. An *architecture* is the space's own string (its genotype); ``to_mask`` and
``genotype`` go between the two for a mask with one op per choice point.

**The networks the search measures** (the rule for every space; TE-NAS' official NAS-Bench-201 constants):

* the NTK network is the space's supernet -- every alive op of a choice point averaged, as TE-NAS' softmax over
  0 / -inf architecture weights does -- with its stem, every width scaled so that the searched part reads
  :data:`NTK_CHANNELS` (3) channels, at the data's own resolution, on one batch of ``defaults.batch_size`` images;
* the region network is the same supernet at its thinnest, every width scaled to :data:`REGION_CHANNELS` (1)
  channel (expansion ratios inside a block kept), without the stem: its first searched layer reads TE-NAS'
  3,000 single-channel 3x3 crops of training images.

On NAS-Bench-201 (cells read C=16 at evaluation) the rule gives the official code's C=3 NTK supernet and C=1
region network; its one-cell-per-stage depth is NAS-Bench-201's own choice (``NB201Space``). A space whose choice
points are layers keeps its whole depth: every layer must be in both networks for its ops to change them.
For NAS-Bench-Macro, "C=1" could also be read as a width fraction (1/16 or 1/32 of every layer): there the region
count of the supernet saturates (2,994-2,998 distinct patterns of 3,000 for every candidate; no accuracies
looked at), so the rule takes the thinnest network, which is what C=1 is on NAS-Bench-201 and DARTS.

**Costs** (optional): ``cost(arch, num_classes)`` gives the final network's :class:`Cost` (parameters, FLOPs by
the space's benchmark convention; a ``dataset`` keyword too where the data changes them, see :func:`cost_of`); a
space without it takes no ``--max-params`` / ``--max-flops``. Budgets list every architecture below the supernet
with it; a space too large to list (or with an edge phase) also gives ``cost_front(alive, num_classes, dataset)``:
the Pareto front of (params, FLOPs) over the architectures a mask can still become (DARTS).

**Benchmarks and published architectures** (optional): ``benchmark`` / ``benchmark_table`` / ``bench_record`` /
``format_benchmark`` (``tenas search``'s record, ``tenas correlate``'s rows, ``tenas bench``'s table) and
``published_name`` / ``published_table`` (``tenas train NAME``, ``tenas train --list``).

A class need not inherit :class:`BaseSpace`; it must provide :data:`REQUIRED` (``check_space`` names what is
missing). :class:`BaseSpace` supplies the optional members' defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # torch is imported by the spaces themselves, not by the contract
    from torch import nn

__all__ = ["Cost", "SpaceDefaults", "SearchSpace", "BaseSpace", "MaskedNetwork", "SpaceError", "check_space",
           "REQUIRED", "NTK_CHANNELS", "REGION_CHANNELS", "scaled"]

#: Channels the NTK supernet's searched part reads (NAS-Bench-201's official C=3).
NTK_CHANNELS = 3
#: Channels of every layer of the region network (NAS-Bench-201's and DARTS' official C=1).
REGION_CHANNELS = 1


def scaled(channels: int, width: float) -> int:
    """A channel count at ``width`` of its own: rounded, at least 1."""
    return max(1, int(round(channels * width)))


class SpaceError(ValueError, TypeError):
    """A class or object that does not follow the search-space contract (the message names what is missing)."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """A final network's cost: parameters and FLOPs (multiply-accumulates per image), by the space's convention."""

    params: int
    flops: int

    def to_dict(self) -> dict[str, int]:
        return {"params": int(self.params), "flops": int(self.flops)}


@dataclasses.dataclass(frozen=True)
class SpaceDefaults:
    """What the CLI uses unless told otherwise: the datasets the space is searched on, and per dataset the NTK
    batch and the ops pruned per choice point per round (``"*"`` is the fallback key)."""

    datasets: tuple[str, ...] = ("cifar10", "cifar100", "folder")
    batch_size: dict = dataclasses.field(default_factory=lambda: {"*": 72})
    prune_number: dict = dataclasses.field(default_factory=lambda: {"*": 1})

    def batch_for(self, dataset: str) -> int:
        return int(self.batch_size.get(dataset, self.batch_size["*"]))

    def prune_for(self, dataset: str) -> int:
        return int(self.prune_number.get(dataset, self.prune_number["*"]))


@runtime_checkable
class MaskedNetwork(Protocol):
    """A supernet whose candidate ops can be switched off without touching its weights."""

    def set_alive(self, alive: np.ndarray) -> "MaskedNetwork": ...


@runtime_checkable
class SearchSpace(Protocol):
    """The contract (see the module docstring). Members marked optional have :class:`BaseSpace` defaults."""

    name: str
    op_names: tuple[str, ...]
    cell_types: tuple[str, ...]
    num_edges: int
    defaults: SpaceDefaults

    def initial_alive(self) -> np.ndarray:
        """The mask the search starts from."""

    def ntk_network(self, alive: np.ndarray, num_classes: int) -> nn.Module:
        """The supernet whose NTK condition number is measured (a :class:`MaskedNetwork`)."""

    def region_network(self, alive: np.ndarray) -> nn.Module:
        """The thin supernet whose linear regions are counted on 1-channel 3x3 crops (a :class:`MaskedNetwork`)."""

    def genotype(self, alive: np.ndarray) -> str:
        """The architecture string of a mask with one op per choice point (after any second phase)."""

    def to_mask(self, arch: str) -> np.ndarray:
        """The one-op-per-choice-point mask of an architecture (``ValueError`` if it does not parse)."""

    def canonical(self, arch: str) -> str:
        """The one string of an architecture's equivalence class (``ValueError`` if it does not parse)."""

    def neighbours(self, arch: str) -> list[str]:
        """Every architecture one edit away (canonical, without ``arch`` itself)."""

    def build_network(self, arch: str, num_classes: int) -> nn.Module:
        """The final (evaluation) network of an architecture."""

    def edge_label(self, cell_type: int, edge: int) -> str:
        """A human-readable name of a choice point, for reports."""

    def edge_groups(self) -> Sequence[tuple[int, int]] | None:
        """DARTS-style second phase: [start, end) edge ranges, keep 2 per range; None = no second phase."""


#: What a space must provide; :func:`check_space` names the ones missing.
REQUIRED = ("name", "op_names", "cell_types", "num_edges", "defaults", "initial_alive", "ntk_network",
            "region_network", "genotype", "to_mask", "canonical", "neighbours", "build_network", "edge_label",
            "edge_groups")


def check_space(space: Any) -> Any:
    """``space`` itself if it follows the contract, else :class:`SpaceError` naming every missing member."""
    missing = [m for m in REQUIRED if not hasattr(space, m)]
    if missing:
        what = space.__name__ if isinstance(space, type) else type(space).__name__
        raise SpaceError(f"{what} is not a search space: it lacks {', '.join(missing)} "
                         f"(the contract is tenas.spaces.base.SearchSpace)")
    return space


class BaseSpace:
    """Defaults of the contract's optional members; subclass it and fill in :data:`REQUIRED`."""

    name = "space"
    defaults = SpaceDefaults()
    #: Whether CPU measurements use oneDNN convolutions (False for spaces of one-channel convolutions).
    cpu_onednn = True

    def options(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this object from its class (a worker gets the class and these)."""
        return {}

    def edge_label(self, cell_type: int, edge: int) -> str:
        return f"{self.cell_types[cell_type]} {edge}" if len(self.cell_types) > 1 else str(edge)

    def edge_groups(self) -> Sequence[tuple[int, int]] | None:
        return None

    def cost(self, arch: str, num_classes: int) -> Cost | None:
        """The final network's cost, or None when the space has no cost function (budgets are then refused).
        A space whose costs depend on the data (its input side) takes a ``dataset`` keyword too (:func:`cost_of`)."""
        return None

    def benchmark(self, arch: str, dataset: str) -> dict | None:
        """The space's benchmark record for ``arch`` on ``dataset`` (accuracies, ...), None when there is none."""
        return None

    def train_protocol(self, dataset: str) -> str | None:
        """The name of ``tenas train``'s protocol for this space's networks on ``dataset`` (:mod:`tenas.train.protocols`)."""
        return None

    def train_network(self, arch: str, dataset: str, num_classes: int, channels: int, cells: int,
                      auxiliary: bool) -> "nn.Module":
        """The network ``tenas train`` trains (``channels`` / ``cells``: the protocol's size or the user's)."""
        return self.build_network(arch, num_classes)

    def benchmark_table(self, dataset: str) -> tuple[list[str], "np.ndarray"] | None:
        """Every architecture of the space's benchmark (its rows, in order) and its test accuracy on ``dataset``
        (what ``tenas correlate`` samples from); None when the space has no table for the dataset."""
        return None

    def published_name(self, arch: str) -> str:
        """The canonical name of a published architecture given by name (``tenas train NAME``), else ''."""
        return ""

    def published_table(self) -> str | None:
        """What ``tenas train --list`` prints: the space's published architectures by name; None for none."""
        return None

    def bench_record(self, arch: str) -> tuple[dict, str] | None:
        """What ``tenas bench SPACE ARCH`` shows: the benchmark's whole record of ``arch`` and its printed table;
        None when the space has no benchmark. A malformed ``arch`` raises ``ValueError``."""
        return None

    def format_benchmark(self, record: dict) -> str:
        """One line for ``tenas search`` to print about a benchmark record."""
        return "benchmark: " + ", ".join(f"{k} {v}" for k, v in record.items())

    def report(self, arch: str, dataset: str, num_classes: int, out) -> dict | None:
        """Extra lines for result.json (e.g. a drawing written into ``out``); None for none."""
        return None

    def arch_key(self, arch: str) -> int:
        """A stable integer of an architecture, for seeds (the same in every process)."""
        digest = hashlib.sha256(self.canonical(arch).encode()).digest()
        return int.from_bytes(digest[:7], "little")

    def proxy_network(self, arch: str, kind: str, C: int, N: int, num_classes: int) -> nn.Module:
        """The network a zero-cost proxy scores (``tenas correlate`` and the local search): ``kind`` ``"thin"``
        is the region network of ``arch``; ``"full"`` its final network at ``C / 16`` of the evaluation width
        (NAS-Bench-201's protocols name widths in its C; ``N``, its cells per stage, has no meaning here)."""
        mask = self.to_mask(arch)
        if kind == "thin":
            return self.region_network(mask)
        return self.scaled_network(arch, C / 16, num_classes)

    def scaled_network(self, arch: str, width: float, num_classes: int) -> nn.Module:
        """The final network at ``width`` of its evaluation width (default: only width 1 is known)."""
        if abs(width - 1.0) > 1e-9:
            raise NotImplementedError(f"space {self.name!r} builds its network at its own width only")
        return self.build_network(arch, num_classes)


def cost_of(space: Any, arch: str, num_classes: int, dataset: str) -> Cost | None:
    """``space.cost(arch, num_classes)``, with ``dataset=`` for a space whose ``cost`` takes it (NAS-Bench-201's
    ImageNet16-120 networks run on 16x16 inputs; DARTS' ImageNet network is another network); None without one."""
    import inspect

    fn = getattr(space, "cost", None)
    if fn is None:
        return None
    try:
        takes = "dataset" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        takes = False
    return fn(arch, num_classes, dataset=dataset) if takes else fn(arch, num_classes)
