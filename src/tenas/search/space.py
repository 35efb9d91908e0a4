"""The small protocol a search space offers to the TE-NAS pruner (which never imports a concrete space).

Alive masks are boolean arrays of shape ``(cell_types, edges, ops)``: NAS-Bench-201 has one cell type
(1 x 6 x 5), DARTS two (normal, reduce: 2 x 14 x 8). ``mask[t, e, k]`` says op ``op_names[k]`` is still
a candidate on edge ``e`` of cell type ``t``.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from torch import nn


@runtime_checkable
class MaskedNetwork(Protocol):
    """A supernet whose candidate ops can be switched off without touching its weights."""

    def set_alive(self, alive: np.ndarray) -> "MaskedNetwork": ...


@runtime_checkable
class SearchSpace(Protocol):
    name: str
    op_names: tuple[str, ...]
    cell_types: tuple[str, ...]          # ("normal",) or ("normal", "reduce")
    num_edges: int

    def initial_alive(self) -> np.ndarray:
        """The mask the search starts from (TE-NAS: everything but ``none``)."""

    def ntk_network(self, alive: np.ndarray, num_classes: int) -> nn.Module:
        """The supernet whose NTK condition number is measured (must also satisfy MaskedNetwork)."""

    def region_network(self, alive: np.ndarray) -> nn.Module:
        """The thin supernet whose linear regions are counted (must also satisfy MaskedNetwork)."""

    region_input_channels: int           # channels of the region-counting inputs (1 for TE-NAS crops)
    #: Optional (default True): whether the CPU measurements use oneDNN convolutions. A space whose
    #: supernets have one-channel convolutions sets False: torch's native kernels are faster there.
    cpu_onednn: bool

    def genotype(self, alive: np.ndarray) -> str:
        """The final architecture's string once the search has finished."""

    def edge_label(self, cell_type: int, edge: int) -> str:
        """A human-readable name of an edge, for reports (e.g. ``"normal 2<-0"``)."""

    def edge_groups(self) -> Sequence[tuple[int, int]] | None:
        """DARTS-style edge selection: [start, end) edge ranges, one per node, keep 2 each; None = no phase."""
