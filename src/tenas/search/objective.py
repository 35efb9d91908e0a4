"""What the pruning ranks: ``--objective``.

``tenas`` (the default) is TE-NAS' rank sum of the relative changes of kappa_N and R_N. Any ``+``-separated
list of registered proxies (:mod:`tenas.indicators.registry`) is ranked the same way, each proxy in its own
orientation: ``ntk+regions`` is ``tenas``; ``ntk+regions+synflow`` adds synflow's change on the NTK supernet.
``ntk`` is measured on the NTK supernet with the NTK batch and ``regions`` on the thin region network with the
3x3 crops, exactly as TE-NAS does; every other proxy runs on the NTK supernet with the NTK batch and its labels.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Objective", "parse_objective", "PRESETS", "NATIVE"]

#: Named objectives: the pruning's terms, then (optionally) the proxies of a local step over the found cell's
#: one-edit neighbours and its number of moves (:mod:`tenas.search.local`; NAS-Bench-201 only).
PRESETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "tenas": (("ntk", "regions"), (), 0),
    # chosen from 13 variants of benchmarks/local_step.py over seeds 0-9 of CIFAR-10 and CIFAR-100
    # (benchmarks/results/local_step_2026-12-02.txt): 93.82 +- 0.26 / 71.49 +- 1.17 vs the default's 93.32 / 70.27
    "tenas+": (("ntk", "regions"), ("synflow",), 6),  # = tenas.search.local.DEFAULT_MEMBERS / DEFAULT_STEPS
}
#: Terms the search measures itself (on the networks and inputs of TE-NAS).
NATIVE = ("ntk", "regions")


@dataclass(frozen=True)
class Objective:
    """The terms whose relative changes are rank-summed, and whether higher is better for each."""

    spec: str
    terms: tuple[str, ...]
    higher_is_better: dict
    local: tuple[str, ...] = ()  # proxies of the local step after the pruning (empty: none)
    local_steps: int = 0

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
    local, steps = (), 0
    if text in PRESETS:
        terms, local, steps = PRESETS[text]
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
    return Objective(text, terms, {t: get_proxy(t).higher_is_better for t in terms}, local, steps)
