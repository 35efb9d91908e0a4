"""What the pruning ranks: ``--objective``.

``tenas`` (the default) is TE-NAS' rank sum of the relative changes of kappa_N and R_N. Any ``+``-separated
list of registered proxies (:mod:`tenas.indicators.registry`) is ranked the same way, each proxy in its own
orientation: ``ntk+regions`` is ``tenas``; ``ntk+regions+synflow`` adds synflow's change on the NTK supernet.
``ntk`` is measured on the NTK supernet with the NTK batch and ``regions`` on the thin region network with the
3x3 crops, exactly as TE-NAS does; every other proxy runs on the NTK supernet with the NTK batch and its labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenas.search.local import DEFAULT_MEMBERS, DEFAULT_STEPS, Stage

__all__ = ["Objective", "parse_objective", "parse_local", "PRESETS", "NATIVE"]

#: Named objectives: the pruning's terms, then (optionally) the stages of a local search over one-edit neighbours
#: of the found cell (:mod:`tenas.search.local`; NAS-Bench-201 only).
PRESETS: dict[str, tuple[tuple[str, ...], tuple[Stage, ...]]] = {
    "tenas": (("ntk", "regions"), ()),
    # stage 1, chosen from 13 variants of benchmarks/studies/local_step.py over seeds 0-9 of CIFAR-10 and CIFAR-100
    # (benchmarks/results/local_step_2026-12-02.txt): 93.82 +- 0.26 / 71.49 +- 1.17 vs the default's 93.32 / 70.27;
    # stage 2, one move by capacity (zen) and trainability (AZ-NAS), chosen on the neighbourhood of the all-3x3 cell
    # (CIFAR-10, seeds 0-2; benchmarks/results/tenas_plus_2026-12-02/): 94.20 +- 0.30 / 72.29 +- 1.60 over seeds 0-9
    "tenas+": (("ntk", "regions"), (Stage(DEFAULT_MEMBERS, DEFAULT_STEPS, "fast"),
                                    Stage(("zen", "az_trainability"), 1, "published"))),
}
#: Terms the search measures itself (on the networks and inputs of TE-NAS).
NATIVE = ("ntk", "regions")


@dataclass(frozen=True)
class Objective:
    """The terms whose relative changes are rank-summed, and whether higher is better for each."""

    spec: str
    terms: tuple[str, ...]
    higher_is_better: dict
    local: tuple[Stage, ...] = ()  # the stages of the local search after the pruning (empty: none)

    @property
    def extra(self) -> tuple[str, ...]:
        """Terms computed by the proxy registry (not kappa_N / R_N)."""
        return tuple(t for t in self.terms if t not in NATIVE)


def parse_objective(spec: str) -> Objective:
    """An :class:`Objective` from ``tenas`` or ``a+b+c`` (registered proxy names); ``ValueError`` says what is wrong."""
    from tenas.indicators.registry import get_proxy, list_proxies

    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"an objective must be a preset ({', '.join(PRESETS)}) or proxies joined by '+', got {spec!r}")
    text = spec.strip()
    local = ()
    if text in PRESETS:
        terms, local = PRESETS[text]
    else:
        terms = tuple(t.strip() for t in text.split("+"))
        if any(not t for t in terms):
            raise ValueError(f"objective {spec!r} has an empty term: write proxies joined by '+', e.g. ntk+regions+synflow")
        unknown = [t for t in terms if t not in list_proxies()]
        if unknown:
            raise ValueError(f"objective {spec!r}: unknown proxy {', '.join(map(repr, unknown))}; presets: "
                             f"{', '.join(PRESETS)}; proxies: {', '.join(list_proxies())}")
        if len(set(terms)) != len(terms):
            raise ValueError(f"objective {spec!r} names a proxy twice")
    return Objective(text, terms, {t: get_proxy(t).higher_is_better for t in terms}, tuple(local))


def parse_local(spec: str) -> tuple[Stage, ...]:
    """The stages of ``--local-search``: ``PROXIES[:MOVES][@PROTOCOL]`` joined by ``,`` (PROXIES joined by ``+``;
    MOVES default 6; PROTOCOL ``fast`` (default) or ``published``), e.g. ``synflow:6,zen+az_trainability:1@published``
    (tenas+'s two stages); ``ValueError`` says what is wrong."""
    from tenas.correlate.presets import PROTOCOLS
    from tenas.indicators.registry import list_proxies

    stages = []
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            raise ValueError(f"local search {spec!r} has an empty stage: write PROXIES[:MOVES][@PROTOCOL], ...")
        body, _, protocol = part.partition("@")
        names, _, moves = body.partition(":")
        members = tuple(m.strip() for m in names.split("+"))
        unknown = [m for m in members if m not in list_proxies()]
        if not all(members) or unknown:
            raise ValueError(f"local search stage {part!r}: unknown proxy {', '.join(map(repr, unknown)) or repr('')}; "
                             f"proxies: {', '.join(list_proxies())}")
        if moves and not (moves.isdigit() and int(moves) >= 1):
            raise ValueError(f"local search stage {part!r}: moves must be a positive integer, got {moves!r}")
        protocol = protocol.strip() or "fast"
        if protocol not in PROTOCOLS:
            raise ValueError(f"local search stage {part!r}: protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
        stages.append(Stage(members, int(moves) if moves else DEFAULT_STEPS, protocol))
    return tuple(stages)
