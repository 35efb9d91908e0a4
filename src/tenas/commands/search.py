"""``tenas search``: the TE-NAS pruning search, end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tenas.commands._folder import add_folder_options, folder_option_errors, folder_settings, read_own_folder
from tenas.commands._types import int_at_least, int_or_word

from tenas.search.api import NUM_CLASSES  # folder: from the folder
from tenas.spaces import DEFAULT_SPACE


_seed = int_at_least(0, "seed")
_positive = int_at_least(1, "the value")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="run a TE-NAS search (NAS-Bench-201 or DARTS space)",
        description="TE-NAS: prune a supernet by the change of NTK condition number and linear-region count.",
    )
    p.add_argument("--space", default=DEFAULT_SPACE,
                   help="search space: nb201 (default), darts, macro (NAS-Bench-Macro), or your own as "
                        "my_pkg.my_module:MySpace or path/to/file.py:MySpace (see tenas.spaces.base)")
    p.add_argument("--dataset", default="cifar10",
                   help="nb201: cifar10, cifar100, ImageNet16-120; darts: cifar10, imagenet; macro: cifar10, cifar100; "
                        "every space: folder (your own images in --data DIR, one sub-folder per class)")
    p.add_argument("--max-params", default=None, metavar="N",
                   help="budget: the final network's parameters at most N (500k, 0.5M, 1200000; the space's count)")
    p.add_argument("--max-flops", default=None, metavar="N",
                   help="budget: the final network's FLOPs at most N (60M, 1.2G; the space's benchmark convention)")
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
                        "(every space; chosen on NAS-Bench-201)")
    p.add_argument("--local-search", default="", metavar="STAGES",
                   help="a local search after the pruning, over the found architecture's one-edit neighbours (within "
                        "any budget): stages PROXIES[:MOVES][@PROTOCOL] joined by ',', each a hill climb by the log-rank "
                        "sum of the proxies on the networks' own scores (protocol fast or published); --objective tenas+ "
                        "is synflow:6,zen+az_trainability:1@published")
    p.add_argument("--init", choices=("kaiming", "once"), default=None,
                   help="kaiming: Kaiming-normal weights re-drawn every repeat (paper, default); "
                        "once: drawn once per round and shared by the repeats (--protocol paper only)")
    p.add_argument("--kappa", choices=("exact", "fixed-bn"), default="exact",
                   help="exact: TE-NAS' NTK, differentiated through BatchNorm's batch statistics (default); "
                        "fixed-bn: statistics held at the batch's values, per-sample gradients in one pass "
                        "(~10x cheaper estimator, not the paper's kernel; see benchmarks/studies/kappa_estimators.py)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=_positive, default=None, help="worker processes on CPU (default: all cores)")
    p.add_argument("--candidate-batch", type=int_or_word("auto", "auto", 1, "--candidate-batch"), default="auto", metavar="N|auto",
                   help="candidates measured together in one vmapped pass (same values within float32 rounding; "
                        "chunked when memory runs out). auto: 1 on CPU (one at a time is faster there, see "
                        "benchmarks/speed/bench_batched.py), 32 on CUDA")
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
    """The space (built) and the budget, or one clear message about what is wrong."""
    from tenas.cli import UserError
    from tenas.search.budget import BudgetError, parse_amount
    from tenas.spaces import SpaceError, get_space

    try:
        space = get_space(args.space)
    except SpaceError as e:
        raise UserError(f"--space: {e}") from None
    datasets = space.defaults.datasets
    if args.dataset not in datasets:
        raise UserError(f"unknown dataset {args.dataset!r} for --space {args.space}; choose from {', '.join(datasets)}")
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
    if args.local_search:
        from tenas.search.objective import parse_local

        if objective.local:
            raise UserError(f"--objective {objective.spec} already ends with a local search; drop --local-search or "
                            "use --objective tenas")
        try:
            parse_local(args.local_search)
        except ValueError as e:
            raise UserError(f"--local-search: {e}") from None
    if (objective.local or args.local_search) and args.dataset == "folder":
        raise UserError("a local search scores networks by proxies chosen on NAS-Bench-201's CIFAR accuracies and "
                        "has no measurement on other data; with --dataset folder use --objective tenas or proxies "
                        "joined by '+', without --local-search")
    try:
        budget = {k: parse_amount(v, f"--max-{k}") for k, v in (("params", args.max_params), ("flops", args.max_flops))
                  if v is not None}
    except BudgetError as e:
        raise UserError(str(e)) from None
    folder_option_errors(args)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("--device cuda was asked for but torch sees no CUDA device")
    return space, budget


def run(args: argparse.Namespace) -> int:
    from tenas.cli import UserError
    from tenas.data import load_dataset
    from tenas.parallel.backends import make_pool
    from tenas.report.plots import plot_trajectory
    from tenas.report.results import atomic_write_json
    from tenas.search.api import search_result
    from tenas.search.budget import BudgetError
    from tenas.search.prune import SearchConfig, SearchState, budget_guard
    from tenas.spaces import space_spec

    space, budget = _check_args(args)
    own = read_own_folder(args) if args.dataset == "folder" else None
    if args.backend == "ray" and args.device == "cuda":
        raise UserError("--backend ray scores on CPU workers; use --device cpu with it")
    candidate_batch = AUTO_CANDIDATE_BATCH[args.device] if args.candidate_batch == "auto" else args.candidate_batch
    if candidate_batch > 1 and not hasattr(space, "edge_weights"):
        raise UserError(f"--candidate-batch {candidate_batch}: space {args.space} has no edge_weights(alive) for the "
                        "vmapped pass; use --candidate-batch 1")
    config = SearchConfig(
        space=space_spec(space),
        dataset=args.dataset,
        seed=args.seed,
        repeats=args.repeats,
        batch_size=args.batch_size or space.defaults.batch_for(args.dataset),
        prune_number=args.prune_number or space.defaults.prune_for(args.dataset),
        init=args.init or "kaiming",
        kappa=args.kappa,
        protocol=args.protocol,
        objective=args.objective.strip(),
        region_samples=args.region_samples,
        region_batch=min(1000, args.region_samples),
        num_classes=own.train.num_classes if own is not None else NUM_CLASSES[args.dataset],
        max_params=budget.get("params"),
        max_flops=budget.get("flops"),
        local_search=args.local_search.strip(),
    )
    try:
        budget_guard(space, config)  # a budget no architecture meets stops here, before any work
    except BudgetError as e:
        raise UserError(str(e)) from None
    out = Path(args.out or f"runs/search-{space.name}-{args.dataset}-seed{args.seed}")
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

    pool = make_pool(args.backend, 1 if args.device == "cuda" else args.workers, args.address)
    try:
        from tenas._alloc import tune_allocator

        tune_allocator()
    except ImportError:  # pragma: no cover
        pass
    bars = _Bars(enabled=not args.quiet)

    def on_round(st: SearchState) -> None:
        st.config = config_dict
        atomic_write_json(state_path, st.to_dict())

    def on_local(arch, stages) -> None:
        bars.close()
        if not args.quiet:
            print(f"local search from {arch}: " + "; then ".join(st.describe() for st in stages), file=sys.stderr)

    with pool:
        result = search_result(space, dataset, config, pool, device=args.device, candidate_batch=candidate_batch,
                               state=state, on_round=on_round, progress=bars, data=args.data, on_local=on_local)
        bars.close()
    out.mkdir(parents=True, exist_ok=True)
    report = space.report(result["arch"], args.dataset, config.num_classes, out) if hasattr(space, "report") else None
    if args.dataset == "folder":
        result["benchmark"] = None
    result.update({
        space.name: report,
        "own_data": _own_data(own, args, out) if own is not None else None,
        "config": {**config_dict, "workers": pool.workers, "device": args.device, "backend": args.backend,
                   "candidate_batch": candidate_batch},
    })
    result["timing"]["peak_rss_mib"] = _peak_rss_mib()
    atomic_write_json(result_path, result)
    plot_trajectory(result, out / "trajectory.png")
    _print_result(result, out, space)
    return 0


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


def _peak_rss_mib() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024.0, 1)


def _print_result(result: dict, out: Path, space) -> None:
    print()
    print(f"found:   {result['arch']}")
    bench = result.get("benchmark")
    if bench:
        fmt = getattr(space, "format_benchmark", None)
        print(fmt(bench) if fmt is not None else "benchmark: " + ", ".join(f"{k} {v}" for k, v in bench.items()))
    if result.get("cost"):
        c = result["cost"]
        print(f"cost:    {c['params'] / 1e6:.3f} M params, {c['flops'] / 1e6:.1f} MFLOPs"
              + (f"  (budget: {_budget_text(result['budget'])})" if result.get("budget") else ""))
    t = result["timing"]
    print(f"time:    {result['seconds']:.1f} s search  (worker seconds: kappa {t['kappa_worker_seconds']:.1f}, "
          f"regions {t['regions_worker_seconds']:.1f}; peak RSS {t['peak_rss_mib']:.0f} MiB)")
    if result.get("own_data"):
        own = result["own_data"]
        print(f"data:    {own['root']}: {len(own['classes'])} classes, {own['train_images']} images searched on; "
              f"no benchmark entry for own data")
        print(f"next:    {own['next']}")
    extra = result.get(space.name)
    if extra and "eval_params_M" in extra:
        print(f"evaluation network ({extra['eval_network']}): {extra['eval_params_M']:.2f} M parameters")
    files = [out / "result.json", out / "trajectory.png"] + [out / f for f in (extra or {}).get("files", [])]
    print("wrote:   " + ", ".join(str(f) for f in files))


def _budget_text(b: dict) -> str:
    parts = [f"params <= {b['max_params']:,}" if b.get("max_params") else "",
             f"FLOPs <= {b['max_flops']:,}" if b.get("max_flops") else ""]
    return " and ".join(p for p in parts if p)


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
