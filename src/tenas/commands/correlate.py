"""``tenas correlate --space nb201 --dataset D --sample N --seed S [--proxies all] [--out DIR]``.

Scores N random NAS-Bench-201 cells (``--sample all``: all 15,625) with the chosen proxies, then prints
Kendall tau and Spearman rho of each against the benchmark's test accuracy, TE-NAS' rank combination and
the ensembles; writes ``DIR/correlations.{csv,json}``, ``DIR/scatter_<proxy>.png`` and the resumable
score cache ``DIR/scores.sqlite``.
"""

from __future__ import annotations

import argparse
import contextlib

from tenas.commands._types import int_or_word
from tenas.spaces import DEFAULT_SPACE


_GENERIC = ("batch_size", "C", "N", "ntk_batch", "ntk_C", "ntk_N", "region_samples")


def add_protocol_args(p: argparse.ArgumentParser) -> None:
    from tenas.correlate.presets import PROTOCOLS, PUBLISHED

    d = PUBLISHED
    g = p.add_argument_group("scoring protocol (networks and batches the proxies see)")
    g.add_argument("--protocol", choices=sorted(PROTOCOLS), default="published",
                   help="published (default): each proxy in its paper's NAS-Bench-201 setting (C=16 N=5, batch 64; "
                        "ntk as TE-NAS: C=3 N=1, batch 72; meco: one image); fast: C=8 N=1 for all, "
                        "about 8x cheaper. The options below change the chosen protocol's generic setting")
    g.add_argument("--batch-size", type=int, default=None, help=f"images per batch (published: {d.batch_size})")
    g.add_argument("--C", dest="C", type=int, default=None, help=f"NB201 network width for the proxies (published: {d.C})")
    g.add_argument("--N", dest="N", type=int, default=None, help=f"cells per stage for the proxies (published: {d.N})")
    g.add_argument("--ntk-batch", type=int, default=None, help=f"images for kappa_N (published: {d.ntk_batch})")
    g.add_argument("--ntk-C", type=int, default=None, help=f"network width for kappa_N (published: {d.ntk_C})")
    g.add_argument("--ntk-N", type=int, default=None, help=f"cells per stage for kappa_N (published: {d.ntk_N})")
    g.add_argument("--region-samples", type=int, default=None,
                   help=f"3x3 crops for R_N on the thin net (published: {d.region_samples})")
    g.add_argument("--proxy-option", action="append", default=None, metavar="PROXY.KEY=VALUE",
                   help="a keyword option for one proxy, repeatable, e.g. --proxy-option reg_swap.mu=1.4 "
                        "--proxy-option reg_swap.sigma=0.3 (values parse as int, float, true/false or text)")


def _value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_proxy_options(items: list[str] | None) -> dict[str, dict[str, object]]:
    """``["reg_swap.mu=1.4", ...]`` -> ``{"reg_swap": {"mu": 1.4}}``; a malformed item raises ``ValueError``."""
    out: dict[str, dict[str, object]] = {}
    for item in items or []:
        head, eq, value = item.partition("=")
        proxy, dot, key = head.strip().rpartition(".")
        if not eq or not dot or not proxy or not key.isidentifier() or not value.strip():
            raise ValueError(f"--proxy-option takes PROXY.KEY=VALUE (e.g. reg_swap.mu=1.4), got {item!r}")
        out.setdefault(proxy, {})[key] = _value(value.strip())
    return out


def protocol_from(args: argparse.Namespace):
    """The protocol ``--protocol`` names, with the generic fields any of the other options set."""
    import dataclasses

    from tenas.cli import UserError
    from tenas.correlate.presets import get_protocol

    base = get_protocol(getattr(args, "protocol", None) or "published")
    changes = {name: getattr(args, name) for name in _GENERIC if getattr(args, name, None) is not None}
    for name, value in changes.items():
        if value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    protocol = dataclasses.replace(base, **changes, name=f"{base.name}+options") if changes else base
    try:
        return protocol.with_options(parse_proxy_options(getattr(args, "proxy_option", None)))
    except KeyError as exc:  # an unknown proxy name
        raise UserError(exc.args[0] if exc.args else str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "correlate",
        help="rank-correlate zero-cost proxies with NAS-Bench-201 accuracy",
        description="Score random NAS-Bench-201 cells with training-free proxies and report Kendall tau / "
                    "Spearman rho against the benchmark's test accuracy (resumable; cache in --out).",
    )
    p.add_argument("--space", default=DEFAULT_SPACE,
                   help="a space with a benchmark table: nb201 (default; cifar10, cifar100, ImageNet16-120) or macro "
                        "(NAS-Bench-Macro, cifar10); cells are sampled from its table")
    p.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "ImageNet16-120"])
    p.add_argument("--data", metavar="PATH", help="the dataset (npz file or official folder); default: the "
                   "embedded 2,000-image CIFAR-10 sample")
    p.add_argument("--sample", type=int_or_word("all", None, 1, "--sample"), default=1000, metavar="N|all", help="cells to score (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cell sample, the batch and the weights")
    p.add_argument("--live-only", action="store_true",
                   help="sample only cells without a dead op (every op on an input-to-output path; 9,445 of 15,625). "
                        "VKDNW's study (CVPR 2025) evidently scores these: on them our FLOPs tau equals its 0.623")
    p.add_argument("--proxies", default="all", help="comma-separated proxy names, or 'all' (default)")
    p.add_argument("--out", default="correlate-out", metavar="DIR", help="output folder (default correlate-out)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores available)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where cells are scored: local processes (default) or Ray (pip install \"tenas[ray]\")")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="--backend ray: the Ray cluster to connect to (default: start Ray here with --workers CPUs)")
    p.add_argument("--ensemble", action="append", metavar="[NAME=][rank|logrank:]A+B+...",
                   help="an ensemble to report (repeatable; replaces the default ones)")
    p.add_argument("--select-ensemble", action="store_true",
                   help="also run greedy ensemble selection on this sample (in-sample: check it on another seed)")
    p.add_argument("--no-plots", action="store_true", help="skip the scatter plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_protocol_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tenas.cli import UserError
    from tenas.correlate.cache import CacheMismatch
    from tenas.correlate.report import format_table
    from tenas.correlate.run import CorrelateConfig, run_correlate
    from tenas.parallel.local import default_workers
    from tenas.spaces import SpaceError

    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise UserError("--workers must be at least 1")
    cfg = CorrelateConfig(space=args.space, dataset=args.dataset, sample=args.sample, seed=args.seed, proxies=args.proxies,
                          data=args.data, out=args.out, protocol=protocol_from(args), workers=workers,
                          ensembles=args.ensemble, plots=not args.no_plots, progress=not args.quiet,
                          select_ensemble=args.select_ensemble, live_only=args.live_only)
    try:
        with contextlib.ExitStack() as stack:
            if args.backend == "ray" or args.address:
                import functools

                from tenas.parallel.backends import make_pool
                from tenas.parallel.ray import run_cells

                pool = stack.enter_context(make_pool(args.backend, args.workers, args.address))
                cfg.runner = functools.partial(run_cells, pool)
                cfg.workers = max(2, pool.workers)  # > 1: correlate hands its cells to the runner
            result = run_correlate(cfg)
    except CacheMismatch as exc:
        raise UserError(str(exc)) from None
    except KeyError as exc:
        raise UserError(exc.args[0] if exc.args else str(exc)) from None
    except SpaceError as exc:
        raise UserError(f"--space: {exc}") from None
    print(format_table(result))
    plots = "" if args.no_plots else ", scatter_*.png"
    print(f"wrote {args.out}/correlations.csv, correlations.json, scores.csv{plots}; cache {args.out}/scores.sqlite")
    return 0
