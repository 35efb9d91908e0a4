"""Measurement protocols: which weights, batch and crops each measurement of a pruning round sees.

The pruning loop (:mod:`tenas.search.prune`) is handed one of these; it never branches on the protocol's
name. A round measures the supernet (mask 0) and every candidate (the supernet without one op). A protocol
splits those measurements into :class:`Group` s: the masks of a group are measured with the same weights, NTK
batch and region crops, and each group holds mask 0 so that every candidate's change is taken against the
supernet measured on the same inputs.

* :class:`PaperProtocol` (``--protocol paper``, the default): the paper's text with common random numbers --
  per repeat one group holding every candidate; Kaiming-normal weights (``fan_out`` for the NTK supernet,
  ``fan_in`` for the region network) re-drawn per (round, repeat) (``--init once``: per round); one NTK batch
  and one set of crops per (round, repeat); kappa and R of the supernet computed once per repeat.
* :class:`OfficialProtocol` (``--protocol official``): what VITA-Group/TENAS' ``prune_tenas.py`` computes
  when run by its launcher -- see the class.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Group", "PaperProtocol", "OfficialProtocol", "PROTOCOLS", "get_protocol", "round_decimals"]


@dataclass(frozen=True)
class Group:
    """Masks measured with the same weights and inputs: the supernet (mask 0) and ``candidates`` (0-based).

    ``ntk_init`` / ``region_init``: ``(kind, seed)`` of the weights, kind ``"kaiming"`` (Kaiming normal, fan_out
    for the NTK net and fan_in for the region net) or ``"default"`` (PyTorch's own initialisation). ``unit``:
    ``None`` when the batch and crops are those of (round, repeat), else the candidate whose own they are.
    """

    repeat: int
    candidates: tuple[int, ...]
    ntk_init: tuple[str, int]
    region_init: tuple[str, int]
    unit: int | None = None


def round_decimals(value: float, decimals: int) -> float:
    """Python's ``round(value, decimals)``; non-finite values unchanged."""
    return value if value != value or value in (float("inf"), float("-inf")) else round(value, decimals)


class PaperProtocol:
    """The paper's text: Kaiming weights re-drawn per repeat, common random numbers within a round."""

    name = "paper"
    #: The region crops: ``False`` = random images with replacement (our default stream).
    distinct_crops = False
    #: How ties in the ranking are decided (see :func:`tenas.search.rank.rank_objective`).
    ties = "rounded"

    def groups(self, config, derive, round_index: int, weights_round: int, n_candidates: int) -> list[Group]:
        """One group per repeat holding every candidate (``derive(round, repeat, purpose, unit)`` gives seeds)."""
        out = []
        for r in range(config.repeats):
            init_round, init_repeat = (0, 0) if config.init == "once" else (round_index, r)
            out.append(Group(r, tuple(range(n_candidates)),
                             ("kaiming", derive(init_round, init_repeat, "ntk_init", None)),
                             ("kaiming", derive(init_round, init_repeat, "region_init", None))))
        return out

    def stage_inits(self, config, derive, repeat: int) -> tuple[tuple[str, int], tuple[str, int]]:
        """Weights for measuring the search path's stages (same for every stage of one repeat)."""
        return ("kaiming", derive(10_000, repeat, "ntk_init", None)), ("kaiming", derive(10_000, repeat, "region_init", None))

    def repeat_change(self, change: float, config) -> float:
        """One repeat's relative change as it enters the mean over repeats."""
        return change


class OfficialProtocol(PaperProtocol):
    """What the official code computes (VITA-Group/TENAS ``prune_tenas.py`` as ``prune_launch.py`` runs it).

    * Weights: the launcher's ``--init kaiming_normal`` matches no branch of ``init_model``, so nothing is ever
      re-initialised: PyTorch's default initialisation. The NTK supernet is built once per round (once for the
      whole edge-selection phase of DARTS) and shared by every candidate and repeat of it; the region networks
      are built anew per candidate and shared by its repeats.
    * Inputs: every (candidate, repeat) pulls its own NTK batch from the shuffled training loader and measures
      kappa of the supernet again on it; the region crops come from a loader that runs on, so every
      (candidate, repeat) sees its own 3 batches of 1,000 crops, each batch from 1,000 distinct images.
    * Rounding: each repeat's relative change is rounded to ``precision`` decimals before the mean; the means
      are sorted by their value at ``precision`` significant digits and only exactly equal means share a rank.
    """

    name = "official"
    distinct_crops = True
    ties = "official"

    def groups(self, config, derive, round_index: int, weights_round: int, n_candidates: int) -> list[Group]:
        """One group per (candidate, repeat); its own batch and crops."""
        ntk = ("default", derive(weights_round, 0, "ntk_init", None))
        out = []
        for j in range(n_candidates):
            region = ("default", derive(round_index, 0, "region_init", j))
            out.extend(Group(r, (j,), ntk, region, unit=j) for r in range(config.repeats))
        return out

    def stage_inits(self, config, derive, repeat: int) -> tuple[tuple[str, int], tuple[str, int]]:
        return ("default", derive(10_000, 0, "ntk_init", None)), ("default", derive(10_000, 0, "region_init", None))

    def repeat_change(self, change: float, config) -> float:
        return round_decimals(change, config.precision)


PROTOCOLS = {"paper": PaperProtocol, "official": OfficialProtocol}


def get_protocol(name: str) -> PaperProtocol:
    """The protocol registered under ``name`` (``ValueError`` lists the known ones)."""
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None

