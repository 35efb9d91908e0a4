"""``tenas search``: the TE-NAS pruning search, end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tenas.commands._folder import add_folder_options, folder_option_errors, folder_settings, read_own_folder
from tenas.commands._types import int_at_least, int_or_word

DATASETS = {
    "nb201": ("cifar10", "cifar100", "ImageNet16-120", "folder"),
    "darts": ("cifar10", "imagenet", "folder"),
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120, "imagenet": 1000}  # folder: from the folder
# official per-space settings: (prune_number, batch_size) by dataset; NB201 everywhere (1, 72); own folders as CIFAR
DEFAULTS = {("darts", "cifar10"): (3, 14), ("darts", "imagenet"): (2, 24), ("darts", "folder"): (3, 14)}


_seed = int_at_least(0, "seed")
_positive = int_at_least(1, "the value")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="run a TE-NAS search (NAS-Bench-201 or DARTS space)",
        description="TE-NAS: prune a supernet by the change of NTK condition number and linear-region count.",
    )
    p.add_argument("--space", default="nb201", help="search space: nb201 (default) or darts")
    p.add_argument("--dataset", default="cifar10",
                   help="nb201: cifar10, cifar100, ImageNet16-120; darts: cifar10, imagenet; both: folder (your own "
                        "images in --data DIR, one sub-folder per class)")
    p.add_argument("--data", default=None, help="dataset folder or .npz (default: the embedded CIFAR-10 sample)")
    add_folder_options(p)
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="output folder (default runs/search-SPACE-DATASET-seedS)")
    p.add_argument("--repeats", type=_positive, default=3, help="re-initialisations per measurement (default 3)")
    p.add_argument("--batch-size", type=_positive, default=None, help="NTK batch (default 72; DARTS 14 / 24)")
    p.add_argument("--prune-number", type=_positive, default=None, help="ops pruned per edge per round (default 1; DARTS 3 / 2)")
    p.add_argument("--region-samples", type=_positive, default=3000,
                   help="3x3 crops for the linear-region count (default 3000, forwarded in chunks of 1000)")
    p.add_argument("--protocol", choices=("paper", "official"), default="paper",
                   help="paper: the paper's text with common random numbers (default); official: what the official "
                        "code computes (PyTorch's default weights, shared per round; a new batch and new crops per "
                        "candidate and repeat; its rounding and ties; see tenas.search.protocols)")
    p.add_argument("--objective", default="tenas",
                   help="what the pruning rank-sums: tenas (kappa_N and R_N, default) or registered proxies joined by "
                        "'+', e.g. ntk+regions+synflow (each proxy's relative change, in its own orientation); "
                        "tenas+: the default pruning, then a two-stage local search over one-edit neighbours "
                        "(NAS-Bench-201 only)")
    p.add_argument("--init", choices=("kaiming", "once"), default=None,
                   help="kaiming: Kaiming-normal weights re-drawn every repeat (paper, default); "
                        "once: drawn once per round and shared by the repeats (--protocol paper only)")
    p.add_argument("--kappa", choices=("exact", "fixed-bn"), default="exact",
                   help="exact: TE-NAS' NTK, differentiated through BatchNorm's batch statistics (default); "
                        "fixed-bn: statistics held at the batch's values, per-sample gradients in one pass "
                        "(~10x cheaper estimator, not the paper's kernel; see benchmarks/kappa_estimators.py)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=_positive, default=None, help="worker processes on CPU (default: all cores)")
    p.add_argument("--candidate-batch", type=int_or_word("auto", "auto", 1, "--candidate-batch"), default="auto", metavar="N|auto",
                   help="candidates measured together in one vmapped pass (same values within float32 rounding; "
                        "chunked when memory runs out). auto: 1 on CPU (one at a time is faster there, see "
                        "benchmarks/bench_batched.py), 32 on CUDA")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where candidates are scored: local processes (default) or Ray (pip install \"tenas[ray]\")")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="--backend ray: the Ray cluster to connect to (default: start Ray here with --workers CPUs)")
    p.add_argument("--force", action="store_true", help="overwrite a finished --out folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


#: --candidate-batch auto, by device
AUTO_CANDIDATE_BATCH = {"cpu": 1, "cuda": 32}


def _check_args(args: argparse.Namespace):
    from tenas.cli import UserError

    if args.space not in DATASETS:
        raise UserError(f"unknown search space {args.space!r}; choose from {', '.join(DATASETS)}")
    if args.dataset not in DATASETS[args.space]:
        raise UserError(f"unknown dataset {args.dataset!r} for --space {args.space}; choose from {', '.join(DATASETS[args.space])}")
    if args.protocol == "official":
        clashes = [opt for opt, given in (("--init", args.init is not None), ("--kappa fixed-bn", args.kappa != "exact"))
                   if given]
        if clashes:
            raise UserError(f"--protocol official fixes the weights and the kernel as the official code has them; "
                            f"drop {' and '.join(clashes)}")
    try:
        from tenas.search.objective import parse_objective

        objective = parse_objective(args.objective)
    except ValueError as e:
        raise UserError(f"--objective: {e}") from None
    if objective.local and args.space != "nb201":
        raise UserError(f"--objective {objective.spec} ends with a local step over NAS-Bench-201 cells; "
                        f"it has no DARTS version: use --objective tenas or proxies joined by '+'")
    if objective.local and args.dataset == "folder":
        raise UserError(f"--objective {objective.spec}'s local step was chosen on NAS-Bench-201's CIFAR accuracies and "
                        f"has no measurement on other data; with --dataset folder use --objective tenas or proxies "
                        f"joined by '+'")
    folder_option_errors(args)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for but torch sees no CUDA device")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from tenas.cli import UserError
    from tenas.data import load_dataset
    from tenas.parallel.backends import make_pool
    from tenas.report.plots import plot_trajectory
    from tenas.report.results import atomic_write_json
    from tenas.search.prune import SearchConfig, SearchState, evaluate_stages, run_search, search_stages
    from tenas.spaces import get_space

    _check_args(args)
    own = read_own_folder(args) if args.dataset == "folder" else None
    if args.backend == "ray" and args.device == "cuda":
        raise UserError("--backend ray scores on CPU workers; use --device cpu with it")
    pool = make_pool(args.backend, 1 if args.device == "cuda" else args.workers, args.address)
    try:
        from tenas._alloc import tune_allocator

        tune_allocator()
    except ImportError:  # pragma: no cover
        pass
    prune_number, batch = DEFAULTS.get((args.space, args.dataset), (1, 72))
    config = SearchConfig(
        space=args.space,
        dataset=args.dataset,
        seed=args.seed,
        repeats=args.repeats,
        batch_size=args.batch_size or batch,
        prune_number=args.prune_number or prune_number,
        init=args.init or "kaiming",
        kappa=args.kappa,
        protocol=args.protocol,
        objective=args.objective.strip(),
        region_samples=args.region_samples,
        region_batch=min(1000, args.region_samples),
        num_classes=own.train.num_classes if own is not None else NUM_CLASSES[args.dataset],
    )
    out = Path(args.out or f"runs/search-{args.space}-{args.dataset}-seed{args.seed}")
    result_path, state_path = out / "result.json", out / "state.json"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if result_path.exists() and not args.force:
        raise UserError(f"{out} holds a finished search ({result_path}); pass --force to overwrite or choose another --out")
    if args.force:
        for p in (result_path, state_path, out / "trajectory.png"):
            if p.exists():
                p.unlink()

    dataset = own.train if own is not None else load_dataset(args.dataset, args.data, split="train")
    data_id = {"data": str(Path(args.data).resolve()) if args.data else "embedded", "images": int(len(dataset.y))}
    if own is not None:  # what else decides the images a folder search sees
        data_id.update(**folder_settings(args), classes=len(own.classes))
    config_dict = {**vars_config(config), **data_id}

    state = None
    if state_path.exists():
        saved = _read_state(state_path)
        # settings added after a state file was written take their defaults (the behaviour it ran with)
        saved["config"] = {**vars_config(SearchConfig()), **saved.get("config", {})}
        if saved.get("config") != config_dict:
            diff = sorted(k for k in set(saved.get("config", {})) | set(config_dict)
                          if saved.get("config", {}).get(k) != config_dict.get(k))
            raise UserError(f"{state_path} belongs to a search with other settings ({', '.join(diff)}); "
                            "use the same settings to resume, or --force to start again")
        state = SearchState(**saved)
        print(f"resuming {out}: {len(state.rounds)} round(s) already done", file=sys.stderr)

    space = get_space(args.space)
    bars = _Bars(enabled=not args.quiet)
    candidate_batch = AUTO_CANDIDATE_BATCH[args.device] if args.candidate_batch == "auto" else args.candidate_batch

    def on_round(st: SearchState) -> None:
        st.config = config_dict
        atomic_write_json(state_path, st.to_dict())

    with pool:
        state = run_search(space, dataset, config, pool, state=state, on_round=on_round, progress=bars,
                           device=args.device, candidate_batch=candidate_batch)
        bars.close()
        alive = np.asarray(state.alive, dtype=bool)
        arch = space.genotype(alive)
        local = _local_step(args, arch)
        path = search_stages(state)
        if local is not None and local.arch != arch:
            arch = local.arch
            path.append(("after local step", _nb201_mask(arch)))
        stages = evaluate_stages(space, dataset, config, pool, path, device=args.device,
                                 candidate_batch=candidate_batch)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "arch": arch,
        "benchmark": _benchmark(args.space, arch, args.dataset),
        "darts": _darts_extras(arch, args.dataset, out, config.num_classes) if args.space == "darts" else None,
        "own_data": _own_data(own, args, out) if own is not None else None,
        "seconds": state.seconds + (local.seconds if local is not None else 0.0),
        "local_step": local.to_dict() if local is not None else None,
        "final": stages[-1],
        "stages": stages,
        "rounds": state.rounds,
        "config": {**config_dict, "workers": pool.workers, "device": args.device, "backend": args.backend,
                   "candidate_batch": candidate_batch},
        "timing": {
            "search_seconds": state.seconds,
            "local_step_seconds": local.seconds if local is not None else 0.0,
            "kappa_worker_seconds": state.t_kappa,
            "regions_worker_seconds": state.t_regions,
            "peak_rss_mib": _peak_rss_mib(),
        },
    }
    atomic_write_json(result_path, result)
    plot_trajectory(result, out / "trajectory.png")
    _print_result(result, out)
    return 0


def _local_step(args: argparse.Namespace, arch: str):
    """The objective's local search from the pruned cell (None when it has none)."""
    from tenas.search.local import local_search
    from tenas.search.objective import parse_objective

    objective = parse_objective(args.objective)
    if not objective.local:
        return None
    if not args.quiet:
        print(f"local search from {arch}: " + "; then ".join(st.describe() for st in objective.local), file=sys.stderr)
    return local_search(arch, args.dataset, args.data, args.seed, objective.local)


def _nb201_mask(arch: str):
    import numpy as np

    from tenas.spaces.nb201 import OP_NAMES, to_cell

    mask = np.zeros((1, 6, len(OP_NAMES)), dtype=bool)
    for e, op in enumerate(to_cell(arch)):
        mask[0, e, OP_NAMES.index(op)] = True
    return mask


def _read_state(path: Path) -> dict:
    """A state file's contents, or one clear message when it is not a search's state."""
    from tenas.cli import UserError
    from tenas.report.results import read_json

    try:
        saved = read_json(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable search state ({e}); remove it or pass --force to start again") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config", {}), dict) or "alive" not in saved:
        raise UserError(f"{path} is not a search state (expected a JSON object with 'config', 'alive' and 'rounds'); "
                        "remove it or pass --force to start again")
    return saved


def vars_config(config) -> dict:
    from dataclasses import asdict

    return asdict(config)


def _own_data(own, args: argparse.Namespace, out: Path) -> dict:
    """What result.json says about a folder search: the data, and how to train the cell found."""
    import shlex

    cmd = ["tenas", "train", str(out / "result.json"), "--space", args.space, "--dataset", "folder", "--data",
           str(args.data)]  # train takes the image size, split and normalisation from result.json
    return {
        "settings": folder_settings(args),
        **own.summary(),
        "benchmark": "none: NAS-Bench-201 has accuracies for CIFAR-10/100 and ImageNet16-120 only; train the cell "
                     "to know how good it is on these images",
        "next": " ".join(shlex.quote(c) for c in cmd + ["--out", str(out / "train")]),
    }


def _benchmark(space: str, arch: str, dataset: str = "cifar10") -> dict | None:
    if space != "nb201" or dataset == "folder":
        return None
    from tenas.bench.nb201 import lookup

    return lookup(arch).to_dict()


def _darts_extras(arch: str, dataset: str, out: Path, num_classes: int) -> dict:
    """DARTS: the evaluation network's parameter count (DARTS' count, no auxiliary head) and a drawing."""
    from tenas.report.cells import plot_darts_cells
    from tenas.spaces import darts

    if dataset == "imagenet":
        net, setting = darts.build_imagenet_network(arch), "ImageNet mobile: 14 cells, 48 channels"
    else:
        net, setting = darts.build_network(arch, num_classes=num_classes), "CIFAR: 20 cells, 36 channels"
    plot_darts_cells(arch, out / "cells.png")
    return {"genotype": arch, "eval_network": setting, "eval_params_M": darts.count_parameters(net) / 1e6}


def _peak_rss_mib() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024.0, 1)


def _print_result(result: dict, out: Path) -> None:
    print()
    print(f"found:   {result['arch']}")
    bench = result.get("benchmark")
    if bench:
        print(f"NAS-Bench-201 #{bench['index']}, test accuracy (200 epochs): CIFAR-10 {bench['cifar10_test']:.2f}, "
              f"CIFAR-100 {bench['cifar100_test']:.2f}, ImageNet16-120 {bench['imagenet16_120_test']:.2f}  "
              f"({bench['params_cifar10']:.3f} M params, {bench['flops_cifar10']:.1f} MFLOPs on CIFAR-10)")
    t = result["timing"]
    print(f"time:    {result['seconds']:.1f} s search  (worker seconds: kappa {t['kappa_worker_seconds']:.1f}, "
          f"regions {t['regions_worker_seconds']:.1f}; peak RSS {t['peak_rss_mib']:.0f} MiB)")
    if result.get("own_data"):
        own = result["own_data"]
        print(f"data:    {own['root']}: {len(own['classes'])} classes, {own['train_images']} images searched on; "
              f"no benchmark entry for own data")
        print(f"next:    {own['next']}")
    if result.get("darts"):
        d = result["darts"]
        print(f"DARTS evaluation network ({d['eval_network']}): {d['eval_params_M']:.2f} M parameters")
    print(f"wrote:   {out / 'result.json'}, {out / 'trajectory.png'}" + (f", {out / 'cells.png'}" if result.get("darts") else ""))


class _Bars:
    """One tqdm bar per round: candidates done / left."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.label = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if label != self.label:
            self.close()
            self.label = label
            self.bar = tqdm(total=total, desc=label, unit="net", file=sys.stderr, leave=True, dynamic_ncols=True)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.label = None
