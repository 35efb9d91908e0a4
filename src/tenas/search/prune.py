"""The TE-NAS pruning loop over any :class:`~tenas.search.space.SearchSpace`.

Each round: for every alive op on every edge that still has more than one, measure the supernet without
that op; ``d_kappa`` and ``d_regions`` are means over ``repeats`` re-initialisations; rank, sum the ranks,
prune the lowest sum on each edge (:mod:`tenas.search.rank`). Stop when every edge has one op; then, for
spaces with edge groups (DARTS), keep the best 2 input edges per node the same way.

Common random numbers: within one repeat of one round, the full supernet and every candidate share the
same weights and inputs, and kappa/R of the full supernet are computed once. All randomness is derived
from ``(seed, round, repeat)`` so any backend or worker gives the same numbers, and a run resumes from its
last finished round with the same result.
"""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from tenas.search.rank import choose_prunes, rank_candidates, relative_drop

#: ``SearchConfig.kappa`` -> the ``bn`` mode of :func:`tenas.indicators.ntk.ntk_condition_number`.
_KAPPA_BN = {"exact": "batch", "fixed-bn": "fixed"}
_PURPOSE = {"batch": 1, "crops": 2, "ntk_init": 3, "region_init": 4, "crop_images": 5}


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines a search's result (written into result.json)."""

    space: str = "nb201"
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
    num_classes: int = 10
    space_options: dict = field(default_factory=dict)


def derive_seed(seed: int, round_index: int, repeat: int, purpose: str) -> int:
    """A 63-bit seed from (seed, round, repeat, purpose), independent of process and worker."""
    words = [int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF, round_index, repeat, _PURPOSE[purpose]]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@functools.lru_cache(maxsize=2)
def _networks(space_name: str, options: tuple, num_classes: int) -> tuple[torch.nn.Module, torch.nn.Module, bool]:
    """The NTK and region supernets of a space, built once per process (every task re-draws all weights),
    and whether its CPU measurements use oneDNN."""
    from tenas.spaces import get_space

    space = get_space(space_name, **dict(options))
    alive = space.initial_alive()
    return space.ntk_network(alive, num_classes), space.region_network(alive), getattr(space, "cpu_onednn", True)


@contextlib.contextmanager
def _onednn(enabled: bool, device: torch.device) -> Iterator[None]:
    """oneDNN convolutions on or off (CPU only) for the measurements inside; restored after."""
    if enabled or device.type != "cpu" or not torch.backends.mkldnn.is_available():
        yield
        return
    with warnings.catch_warnings():  # set_flags warns about TF32 on oneDNN when it restores the flags
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


# --------------------------------------------------------------------------------------------------
# one task: score a list of alive masks with shared weights and inputs (runs in a worker)
# --------------------------------------------------------------------------------------------------
def score_masks(task: dict) -> dict:
    """kappa_N and R_N for each mask in ``task["masks"]`` with the task's weights and inputs.

    A task is a plain dict (picklable, backend-independent): space name/options, num_classes, the init
    seeds, the NTK batch, the region crops, the masks, device.
    """
    from tenas.indicators.init import kaiming_init_
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.indicators.regions import count_linear_regions

    device = torch.device(task.get("device", "cpu"))
    options = tuple(sorted(task.get("space_options", {}).items()))
    ntk_net, region_net, onednn = _networks(task["space"], options, task["num_classes"])
    kaiming_init_(ntk_net, mode="fan_out", generator=_generator(task["ntk_init_seed"]))
    kaiming_init_(region_net, mode="fan_in", generator=_generator(task["region_init_seed"]))
    ntk_net.to(device)
    region_net.to(device)
    inputs = torch.as_tensor(task["batch"]).to(device)
    crops = torch.as_tensor(task["crops"]).to(device)
    kappas, regions = [], []
    t_kappa = t_regions = 0.0
    for mask in task["masks"]:
        mask = np.asarray(mask, dtype=bool)
        t0 = time.perf_counter()
        ntk_net.set_alive(mask)
        with _onednn(onednn, device):
            kappas.append(float(ntk_condition_number(ntk_net, inputs, bn=_KAPPA_BN[task.get("kappa", "exact")])))
        t1 = time.perf_counter()
        region_net.set_alive(mask)
        regions.append(float(count_linear_regions(region_net, crops, batch_size=task["region_batch"])))
        t2 = time.perf_counter()
        t_kappa += t1 - t0
        t_regions += t2 - t1
    return {"kappa": kappas, "regions": regions, "t_kappa": t_kappa, "t_regions": t_regions}


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


class InputSource:
    """Draws the NTK batch and the region crops for (round, repeat) from a dataset, deterministically."""

    def __init__(self, dataset, config: SearchConfig):
        from tenas.data import sample_batch, to_tensor

        self._dataset = dataset
        self._config = config
        self._sample_batch = sample_batch
        self._to_tensor = to_tensor
        if config.batch_size > len(dataset.y):
            raise ValueError(
                f"--batch-size {config.batch_size} is larger than the data ({len(dataset.y)} images in {dataset.source})"
            )

    def batch(self, round_index: int, repeat: int) -> np.ndarray:
        seed = derive_seed(self._config.seed, round_index, repeat, "batch")
        x, _ = self._sample_batch(self._dataset, self._config.batch_size, _generator(seed), augment=True)
        return x.numpy()

    def crops(self, round_index: int, repeat: int) -> np.ndarray:
        from tenas.indicators.crops import random_crops

        cfg = self._config
        g = _generator(derive_seed(cfg.seed, round_index, repeat, "crop_images"))
        n_img = len(self._dataset.y)
        idx = torch.randint(n_img, (min(n_img, cfg.region_samples),), generator=g).numpy()
        images = self._to_tensor(self._dataset.x[np.sort(idx)], self._dataset.name)
        g2 = _generator(derive_seed(cfg.seed, round_index, repeat, "crops"))
        return random_crops(images, n=cfg.region_samples, size=3, generator=g2).numpy()


def _round_tasks(space_name, config: SearchConfig, source: InputSource, round_index: int, masks: list, device, chunk: int):
    """Tasks of one round: per repeat, the masks (full first) split into chunks."""
    tasks, layout = [], []
    for r in range(config.repeats):
        init_round = 0 if config.init == "once" else round_index
        init_repeat = 0 if config.init == "once" else r
        common = {
            "space": space_name,
            "space_options": config.space_options,
            "num_classes": config.num_classes,
            "ntk_init_seed": derive_seed(config.seed, init_round, init_repeat, "ntk_init"),
            "region_init_seed": derive_seed(config.seed, init_round, init_repeat, "region_init"),
            "batch": source.batch(round_index, r),
            "crops": source.crops(round_index, r),
            "region_batch": config.region_batch,
            "kappa": config.kappa,
            "device": str(device),
        }
        for start in range(0, len(masks), chunk):
            tasks.append({**common, "masks": [m.tolist() for m in masks[start : start + chunk]]})
            layout.append((r, start))
    return tasks, layout


def _evaluate(pool, space, config, source, round_index, masks, device, chunk, progress, label):
    """kappa[r][m], regions[r][m] for every repeat r and mask m, plus worker seconds."""
    tasks, layout = _round_tasks(space.name, config, source, round_index, masks, device, chunk)
    kappa = np.full((config.repeats, len(masks)), np.nan)
    regions = np.full((config.repeats, len(masks)), np.nan)
    t_k = t_r = 0.0
    done = 0
    progress(label, 0, len(masks) * config.repeats)
    for i, res in pool.run(score_masks, tasks):
        r, start = layout[i]
        n = len(res["kappa"])
        kappa[r, start : start + n] = res["kappa"]
        regions[r, start : start + n] = res["regions"]
        t_k += res["t_kappa"]
        t_r += res["t_regions"]
        done += n
        progress(label, done, len(masks) * config.repeats)
    return kappa, regions, t_k, t_r


def _round_record(space, label, alive, candidates, kappa, regions, ranked, chosen, kind) -> dict:
    cand_records = []
    by_key = {(r.cell_type, r.edge, r.op): r for r in ranked}
    for j, (t, e, k) in enumerate(candidates):
        rk = by_key[(t, e, k)]
        cand_records.append(
            {
                "cell_type": space.cell_types[t],
                "edge": e,
                "edge_label": space.edge_label(t, e),
                "op": space.op_names[k],
                "kappa": kappa[:, j + 1].tolist(),
                "regions": regions[:, j + 1].tolist(),
                "d_kappa": rk.d_kappa,
                "d_regions": rk.d_regions,
                "kappa_rank": rk.kappa_rank,
                "regions_rank": rk.regions_rank,
                "rank_sum": rk.rank_sum,
                "pruned": any((c.cell_type, c.edge, c.op) == (t, e, k) for c in chosen),
            }
        )
    return {
        "label": label,
        "kind": kind,
        "supernet_kappa": _mean_or_inf(kappa[:, 0]),
        "supernet_kappa_repeats": kappa[:, 0].tolist(),
        "supernet_regions": float(regions[:, 0].mean()),
        "supernet_regions_repeats": regions[:, 0].tolist(),
        "alive_before": np.asarray(alive).astype(int).tolist(),
        "candidates": cand_records,
        "pruned": [
            {"cell_type": space.cell_types[c.cell_type], "edge": c.edge, "edge_label": space.edge_label(c.cell_type, c.edge),
             "op": space.op_names[c.op]}
            for c in chosen
        ],
        "non_finite_kappa": int((~np.isfinite(kappa)).sum()),
    }


def _mean_or_inf(values: np.ndarray) -> float:
    """Mean of kappa over repeats; inf when any repeat is not finite (kappa is never NaN)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()) if np.isfinite(values).all() else float("inf")


def _score_candidates(kappa, regions):
    """Mean over repeats of the relative drops of kappa and R for every candidate column (1..)."""
    reps, m = kappa.shape
    d_k = [float(np.mean([relative_drop(kappa[r, 0], kappa[r, j]) for r in range(reps)])) for j in range(1, m)]
    d_r = [float(np.mean([relative_drop(regions[r, 0], regions[r, j]) for r in range(reps)])) for j in range(1, m)]
    return d_k, d_r


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
) -> SearchState:
    """Run (or continue) a TE-NAS search; ``on_round`` is called with the state after each finished round."""
    progress = progress or (lambda *a: None)
    on_round = on_round or (lambda s: None)
    source = InputSource(dataset, config)
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
        kappa, regions, t_k, t_r = _evaluate(pool, space, config, source, round_index, masks, device, chunk, progress, label)
        d_k, d_r = _score_candidates(kappa, regions)
        ranked = rank_candidates(candidates, d_k, d_r, digits=config.precision)
        quota = {(t, e): min(config.prune_number, int(counts[t, e]) - 1) for t, e in {(c[0], c[1]) for c in candidates}}
        chosen = choose_prunes(ranked, quota)
        new_alive = alive.copy()
        for c in chosen:
            new_alive[c.cell_type, c.edge, c.op] = False
        finish_round(_round_record(space, label, alive, candidates, kappa, regions, ranked, chosen, "prune"), new_alive, t_k, t_r)

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
        kappa, regions, t_k, t_r = _evaluate(pool, space, config, source, round_index, masks, device, chunk, progress, label)
        d_k, d_r = _score_candidates(kappa, regions)
        ranked = rank_candidates(candidates, d_k, d_r, digits=config.precision)
        chosen = list(ranked[: len(live) - 2])  # lowest rank sums go; the 2 highest stay
        new_alive = alive.copy()
        for c in chosen:
            new_alive[c.cell_type, c.edge, :] = False
        finish_round(_round_record(space, label, alive, candidates, kappa, regions, ranked, chosen, "edges"), new_alive, t_k, t_r)

    state.seconds = time.perf_counter() - t_start
    return state


def evaluate_final(space, dataset, config: SearchConfig, pool, alive: np.ndarray, device: str = "cpu") -> dict:
    """kappa_N and R_N of the final network (means over repeats), the last point of the trajectory."""
    source = InputSource(dataset, config)
    round_index = 10_000  # its own random stream
    kappa, regions, _, _ = _evaluate(pool, space, config, source, round_index, [np.asarray(alive, bool)], device, 1,
                                     lambda *a: None, "final")
    return {
        "kappa": _mean_or_inf(kappa[:, 0]),
        "kappa_repeats": kappa[:, 0].tolist(),
        "regions": float(regions[:, 0].mean()),
        "regions_repeats": regions[:, 0].tolist(),
    }
