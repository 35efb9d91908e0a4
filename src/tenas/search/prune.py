"""The TE-NAS pruning loop over any :class:`~tenas.spaces.base.SearchSpace`.

Each round: for every alive op on every edge that still has more than one, measure the supernet without
that op; ``d_kappa`` and ``d_regions`` are means over ``repeats`` re-initialisations; rank, sum the ranks,
prune the lowest sum on each edge (:mod:`tenas.search.rank`). Stop when every edge has one op; then, for
spaces with edge groups (DARTS), keep the best 2 input edges per node the same way.

Which weights, batch and crops each measurement sees is the protocol's (:mod:`tenas.search.protocols`: the
paper's common random numbers by default, or what the official code computes); what is ranked is the
objective's (:mod:`tenas.search.objective`: TE-NAS' kappa_N and R_N by default, or any registered proxies).
All randomness is derived from ``(seed, round, repeat[, candidate])`` so any backend or worker gives the same
numbers, and a run resumes from its last finished round with the same result.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tenas.search.inputs import InputSource, derive_seed
from tenas.search.measure import score_masks
from tenas.search.objective import Objective, parse_objective
from tenas.search.protocols import Group, get_protocol
from tenas.search.rank import choose_prunes, rank_objective, relative_drop
from tenas.spaces import DEFAULT_SPACE



@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search's result (written into result.json)."""

    space: str = DEFAULT_SPACE
    dataset: str = "cifar10"
    seed: int = 0
    repeats: int = 3
    batch_size: int = 72
    region_samples: int = 3000
    region_batch: int = 1000
    prune_number: int = 1
    precision: int = 3
    init: str = "kaiming"  # "kaiming": re-drawn per repeat (paper); "once": drawn once per round
    kappa: str = "exact"  # "exact": TE-NAS' NTK; "fixed-bn": BatchNorm statistics held fixed (estimator)
    protocol: str = "paper"  # "paper" (the text, common random numbers) or "official" (the official code's)
    objective: str = "tenas"  # what is rank-summed: "tenas" (kappa_N, R_N) or proxies joined by "+"
    num_classes: int = 10
    space_options: dict = field(default_factory=dict)
    max_params: int | None = None  # budget on the final network (the space's cost function); None: none
    max_flops: int | None = None
    local_search: str = ""  # --local-search stages after the pruning ("" : the objective's, if any)


# --------------------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------------------
Progress = Callable[[str, int, int], Any]  # (round label, done, total)


@dataclass
class SearchState:
    """What a search has finished: written atomically after every round, resumable."""

    config: dict
    alive: list
    rounds: list = field(default_factory=list)
    phase: str = "prune"  # "prune" -> "edges" -> "done"
    seconds: float = 0.0
    t_kappa: float = 0.0
    t_regions: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Measured:
    """One round's measurements: per term, the supernet's and each candidate's value, shape (repeats, candidates).

    Under the paper's protocol the supernet column repeats one value per repeat; under the official one
    every (candidate, repeat) has its own supernet measurement.
    """

    full: dict
    cand: dict
    shared_full: bool = True  # one supernet measurement per repeat, shared by every candidate
    t_kappa: float = 0.0
    t_regions: float = 0.0


def _space_ref(space, config: SearchConfig) -> tuple[str, dict]:
    """What a worker rebuilds the space from: its spec (:func:`tenas.spaces.space_spec`) and options."""
    from tenas.spaces import space_spec

    options = space.options() if hasattr(space, "options") else {}
    return space_spec(space), {**options, **config.space_options}


def _tasks(space_ref, config: SearchConfig, objective: Objective, source: InputSource, protocol, round_index: int,
           groups: list[Group], masks: list, device, chunk: int, candidate_batch: int = 1):
    """Tasks of one round and, per task, the (group, column) of each of its results: each group's masks (the
    supernet first, then its candidates) in chunks. With ``candidate_batch`` > 1 a task holds that many masks,
    measured in vmapped passes (:mod:`tenas.search.batched`); groups smaller than that which share their NTK
    weights (the official protocol's, one per candidate and repeat) are packed together as ``parts``."""
    chunk = max(chunk, candidate_batch)
    tasks, layout = [], []
    pending: list[tuple[int, dict, list[int]]] = []

    def flush() -> None:
        if not pending:
            return
        first = pending[0][1]
        shared = {k: v for k, v in first.items() if k not in ("batch", "labels", "crops", "region_init")}
        parts = [{"batch": c["batch"], "crops": c["crops"], "region_init": c["region_init"],
                  **({"labels": c["labels"]} if "labels" in c else {}),
                  "masks": [np.asarray(masks[j]).tolist() for j in cols]} for _, c, cols in pending]
        tasks.append({**shared, "parts": parts})
        layout.append([(gi, j) for gi, _, cols in pending for j in cols])
        pending.clear()

    for gi, g in enumerate(groups):
        batch, labels = source.labelled_batch(round_index, g.repeat, g.unit)
        common = {
            "space": space_ref[0],
            "space_options": space_ref[1],
            "num_classes": config.num_classes,
            "ntk_init": g.ntk_init,
            "region_init": g.region_init,
            "batch": batch,
            "crops": source.crops(round_index, g.repeat, g.unit, distinct=protocol.distinct_crops),
            "region_batch": config.region_batch,
            "kappa": config.kappa,
            "device": str(device),
            "candidate_batch": candidate_batch,
        }
        if objective.extra:
            common.update(proxies=list(objective.extra), labels=labels)
        cols = [0] + [j + 1 for j in g.candidates]
        if candidate_batch > 1 and len(cols) < candidate_batch and config.kappa == "exact":
            if pending and (pending[0][1]["ntk_init"] != g.ntk_init
                            or sum(len(c) for _, _, c in pending) + len(cols) > candidate_batch):
                flush()
            pending.append((gi, common, cols))
            continue
        flush()
        for start in range(0, len(cols), chunk):
            tasks.append({**common, "masks": [np.asarray(masks[c]).tolist() for c in cols[start : start + chunk]]})
            layout.append([(gi, c) for c in cols[start : start + chunk]])
    flush()
    return tasks, layout


def _evaluate(pool, space, config, objective, protocol, source, round_index, weights_round, masks, device, chunk,
              progress, label, candidate_batch: int = 1) -> Measured:
    """Every term's value for the supernet and each candidate of a round, per repeat."""
    n_cand = len(masks) - 1
    groups = protocol.groups(config, functools.partial(derive_seed, config.seed), round_index, weights_round, n_cand)
    tasks, layout = _tasks(_space_ref(space, config), config, objective, source, protocol, round_index, groups, masks, device, chunk,
                           candidate_batch)
    names = ("ntk", "regions") + objective.extra
    values: list[dict] = [{n: {} for n in names} for _ in groups]
    t_k = t_r = 0.0
    total = sum(len(where) for where in layout)
    done = 0
    progress(label, 0, total)
    for i, res in pool.run(score_masks, tasks):
        got = {"ntk": res["kappa"], "regions": res["regions"], **res.get("extra", {})}
        for n in names:
            for (gi, col), value in zip(layout[i], got[n]):
                values[gi][n][col] = value
        t_k += res["t_kappa"]
        t_r += res["t_regions"]
        done += len(layout[i])
        progress(label, done, total)
    full = {n: np.full((config.repeats, n_cand), np.nan) for n in names}
    cand = {n: np.full((config.repeats, n_cand), np.nan) for n in names}
    for g, vals in zip(groups, values):
        for n in names:
            for j in g.candidates:
                full[n][g.repeat, j] = vals[n][0]
                cand[n][g.repeat, j] = vals[n][j + 1]
    return Measured(full, cand, all(len(g.candidates) == n_cand for g in groups), t_k, t_r)


def _supernet_repeats(full: np.ndarray, shared: bool) -> np.ndarray:
    """The supernet's value per repeat: its one measurement, or the mean of its per-candidate measurements."""
    return full[:, 0] if shared else np.asarray([_mean_or_inf(row) for row in full])


def _round_record(space, label, alive, candidates, measured: Measured, ranked, chosen, kind) -> dict:
    cand_records = []
    by_key = {(r.cell_type, r.edge, r.op): r for r in ranked}
    kappa, regions = measured.cand["ntk"], measured.cand["regions"]
    per_candidate_full = not measured.shared_full
    for j, (t, e, k) in enumerate(candidates):
        rk = by_key[(t, e, k)]
        rec = {
            "cell_type": space.cell_types[t],
            "edge": e,
            "edge_label": space.edge_label(t, e),
            "op": space.op_names[k],
            "kappa": kappa[:, j].tolist(),
            "regions": regions[:, j].tolist(),
            "d_kappa": rk.d_kappa,
            "d_regions": rk.d_regions,
            "kappa_rank": rk.kappa_rank,
            "regions_rank": rk.regions_rank,
            "rank_sum": rk.rank_sum,
            "pruned": any((c.cell_type, c.edge, c.op) == (t, e, k) for c in chosen),
        }
        if per_candidate_full:  # the supernet measured again on this candidate's inputs
            rec["supernet_kappa"] = measured.full["ntk"][:, j].tolist()
            rec["supernet_regions"] = measured.full["regions"][:, j].tolist()
        for name in measured.cand:
            if name not in ("ntk", "regions"):
                rec.setdefault("proxies", {})[name] = {"supernet": measured.full[name][:, j].tolist(),
                                                       "without": measured.cand[name][:, j].tolist()}
        if set(rk.ranks) != {"ntk", "regions"}:
            rec["deltas"], rec["ranks"] = dict(rk.deltas), dict(rk.ranks)
        cand_records.append(rec)
    sk = _supernet_repeats(measured.full["ntk"], measured.shared_full)
    sr = _supernet_repeats(measured.full["regions"], measured.shared_full)
    everything = np.concatenate([measured.full["ntk"].ravel(), kappa.ravel()]) if per_candidate_full else \
        np.concatenate([sk, kappa.ravel()])
    return {
        "label": label,
        "kind": kind,
        "supernet_kappa": _mean_or_inf(sk),
        "supernet_kappa_repeats": sk.tolist(),
        "supernet_regions": float(np.mean(sr)),
        "supernet_regions_repeats": sr.tolist(),
        "alive_before": np.asarray(alive).astype(int).tolist(),
        "candidates": cand_records,
        "pruned": [
            {"cell_type": space.cell_types[c.cell_type], "edge": c.edge, "edge_label": space.edge_label(c.cell_type, c.edge),
             "op": space.op_names[c.op]}
            for c in chosen
        ],
        "non_finite_kappa": int((~np.isfinite(everything)).sum()),
    }


def _mean_or_inf(values: np.ndarray) -> float:
    """Mean of kappa over repeats; inf when any repeat is not finite (kappa is never NaN)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()) if np.isfinite(values).all() else float("inf")


def _rank(candidates, measured: Measured, objective: Objective, protocol, config: SearchConfig):
    """Each term's mean relative change per candidate (each repeat's change as the protocol takes it), ranked."""
    reps = config.repeats
    deltas = {}
    for name in objective.terms:
        full, cand = measured.full[name], measured.cand[name]
        deltas[name] = [float(np.mean([protocol.repeat_change(relative_drop(full[r, j], cand[r, j]), config)
                                       for r in range(reps)])) for j in range(len(candidates))]
    return rank_objective(candidates, deltas, objective.higher_is_better, digits=config.precision, ties=protocol.ties)


def budget_guard(space, config: SearchConfig):
    """The :class:`tenas.search.budget.BudgetGuard` of a search's budget, or None when it has none."""
    from tenas.search.budget import Budget, make_guard

    budget = Budget(config.max_params, config.max_flops)
    return make_guard(space, budget, config.num_classes, space.initial_alive(), config.dataset) if budget else None


def _within_budget(guard, alive: np.ndarray):
    """``allowed(chosen, candidate)`` for :func:`choose_prunes`: the mask after the prunes chosen so far and this
    one can still end within the budget (always True without a budget)."""
    if guard is None:
        return None

    def allowed(chosen, r) -> bool:
        m = np.asarray(alive, dtype=bool).copy()
        for c in (*chosen, r):
            m[c.cell_type, c.edge, c.op] = False
        return guard.feasible(m)

    return allowed


def _edges_to_remove(ranked, n: int, alive: np.ndarray, guard) -> list:
    """The ``n`` edges of a node to remove, in rank order; under a budget an edge whose removal leaves no
    architecture within it is kept and the next one goes instead (one pass always finds ``n``: an edge kept so is
    in every within-budget pair of the edges left, and a pair has two)."""
    if guard is None:
        return list(ranked[:n])
    chosen, m = [], np.asarray(alive, dtype=bool).copy()
    for c in ranked:
        if len(chosen) == n:
            break
        trial = m.copy()
        trial[c.cell_type, c.edge, :] = False
        if guard.feasible(trial):
            chosen.append(c)
            m = trial
    if len(chosen) < n:  # pragma: no cover - the argument above
        raise RuntimeError(f"the edge phase cannot keep the budget ({guard.budget.describe()})")
    return chosen


def prune_candidates(alive: np.ndarray) -> tuple[list[tuple[int, int, int]], list[np.ndarray]]:
    """A pruning round's candidates ``(cell type, edge, op)`` -- every alive op on an edge with more than one
    -- and the masks to measure: ``alive`` itself first, then ``alive`` without each candidate."""
    counts = alive.sum(axis=2)
    candidates = [(t, e, k) for t in range(alive.shape[0]) for e in range(alive.shape[1]) if counts[t, e] > 1
                  for k in range(alive.shape[2]) if alive[t, e, k]]
    masks = [alive]
    for t, e, k in candidates:
        m = alive.copy()
        m[t, e, k] = False
        masks.append(m)
    return candidates, masks


def run_search(
    space,
    dataset,
    config: SearchConfig,
    pool,
    *,
    state: SearchState | None = None,
    on_round: Callable[[SearchState], None] | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
    chunk: int = 1,
    candidate_batch: int = 1,
) -> SearchState:
    """Run (or continue) a TE-NAS search; ``on_round`` is called with the state after each finished round.
    ``candidate_batch``: candidates measured together in one vmapped pass (1: one at a time; the same values
    within float32 rounding)."""
    progress = progress or (lambda *a: None)
    on_round = on_round or (lambda s: None)
    source = InputSource(dataset, config)
    protocol, objective = get_protocol(config.protocol), parse_objective(config.objective)
    guard = budget_guard(space, config)
    if state is None:
        state = SearchState(config=asdict(config), alive=space.initial_alive().astype(int).tolist())
    t_start = time.perf_counter() - state.seconds

    def finish_round(record, alive, t_k, t_r):
        state.rounds.append(record)
        state.alive = alive.astype(int).tolist()
        state.t_kappa += t_k
        state.t_regions += t_r
        state.seconds = time.perf_counter() - t_start
        on_round(state)

    # phase 1: prune ops until one per edge
    while state.phase == "prune":
        alive = np.asarray(state.alive, dtype=bool)
        counts = alive.sum(axis=2)
        if (counts <= 1).all():
            state.phase = "edges" if space.edge_groups() else "done"
            break
        round_index = len(state.rounds)
        candidates, masks = prune_candidates(alive)
        label = f"round {round_index + 1}"
        measured = _evaluate(pool, space, config, objective, protocol, source, round_index, round_index, masks, device,
                             chunk, progress, label, candidate_batch)
        ranked = _rank(candidates, measured, objective, protocol, config)
        quota = {(t, e): min(config.prune_number, int(counts[t, e]) - 1) for t, e in {(c[0], c[1]) for c in candidates}}
        chosen = choose_prunes(ranked, quota, allowed=_within_budget(guard, alive))
        if not chosen:
            raise RuntimeError(f"{label}: every op left on every choice point is needed to stay within the budget "
                               f"({guard.budget.describe()}); the supernet cannot be pruned further")
        new_alive = alive.copy()
        for c in chosen:
            new_alive[c.cell_type, c.edge, c.op] = False
        finish_round(_round_record(space, label, alive, candidates, measured, ranked, chosen, "prune"), new_alive,
                     measured.t_kappa, measured.t_regions)

    # phase 2 (DARTS): per node keep the 2 input edges whose removal hurts most
    while state.phase == "edges":
        alive = np.asarray(state.alive, dtype=bool)
        todo = None
        for t in range(alive.shape[0]):
            for g, (a, b) in enumerate(space.edge_groups()):
                live = [e for e in range(a, b) if alive[t, e].any()]
                if len(live) > 2:
                    todo = (t, g, live)
                    break
            if todo:
                break
        if todo is None:
            state.phase = "done"
            break
        t, g, live = todo
        round_index = len(state.rounds)
        candidates = [(t, e, int(np.flatnonzero(alive[t, e])[0])) for e in live]
        masks = [alive]
        for tt, e, k in candidates:
            m = alive.copy()
            m[tt, e, :] = False
            masks.append(m)
        label = f"edges {space.cell_types[t]} node {g + 2}"
        # the official code builds one NTK supernet for the whole edge-selection phase
        weights_round = next(i for i, rec in enumerate(state.rounds) if rec["kind"] == "edges") \
            if any(rec["kind"] == "edges" for rec in state.rounds) else round_index
        measured = _evaluate(pool, space, config, objective, protocol, source, round_index, weights_round, masks, device,
                             chunk, progress, label, candidate_batch)
        ranked = _rank(candidates, measured, objective, protocol, config)
        chosen = _edges_to_remove(ranked, len(live) - 2, alive, guard)  # lowest rank sums go; the 2 highest stay
        new_alive = alive.copy()
        for c in chosen:
            new_alive[c.cell_type, c.edge, :] = False
        finish_round(_round_record(space, label, alive, candidates, measured, ranked, chosen, "edges"), new_alive,
                     measured.t_kappa, measured.t_regions)

    state.seconds = time.perf_counter() - t_start
    return state


def search_stages(state: SearchState) -> list[tuple[str, np.ndarray]]:
    """The search path: (label, alive mask) of the supernet, after every round, and the found network."""
    stages = []
    for i, rec in enumerate(state.rounds):
        stages.append(("supernet" if i == 0 else f"after {state.rounds[i - 1]['label']}", np.asarray(rec["alive_before"], bool)))
    stages.append(("found", np.asarray(state.alive, bool)))
    return stages


def evaluate_stages(space, dataset, config: SearchConfig, pool, stages: list[tuple[str, np.ndarray]],
                    device: str = "cpu", candidate_batch: int = 1) -> list[dict]:
    """kappa_N and R_N of every stage of the search path, all measured with the same weights, NTK batch and crops
    per repeat (their own random stream), so that the path shows the pruning, not the draws."""
    protocol = get_protocol(config.protocol)
    source = InputSource(dataset, config)
    derive = functools.partial(derive_seed, config.seed)
    round_index = 10_000
    tasks = []
    spec, options = _space_ref(space, config)
    for r in range(config.repeats):
        ntk_init, region_init = protocol.stage_inits(config, derive, r)
        tasks.append({
            "space": spec, "space_options": options, "num_classes": config.num_classes,
            "ntk_init": ntk_init, "region_init": region_init, "batch": source.batch(round_index, r),
            "crops": source.crops(round_index, r, distinct=protocol.distinct_crops), "region_batch": config.region_batch,
            "kappa": config.kappa, "device": str(device), "masks": [np.asarray(m).tolist() for _, m in stages],
            "candidate_batch": candidate_batch,
        })
    kappa = np.full((config.repeats, len(stages)), np.nan)
    regions = np.full((config.repeats, len(stages)), np.nan)
    for i, res in pool.run(score_masks, tasks):
        kappa[i], regions[i] = res["kappa"], res["regions"]
    return [{"label": label, "kappa": _mean_or_inf(kappa[:, s]), "kappa_repeats": kappa[:, s].tolist(),
             "regions": float(regions[:, s].mean()), "regions_repeats": regions[:, s].tolist()}
            for s, (label, _) in enumerate(stages)]
