"""``tenas score [--space S] ARCH... [--proxies ...] [--dataset D] [--data PATH] [--seed S] [--protocol P]``.

Prints a table of proxy values (raw, in each paper's units; the header says which way is better) for the
given architectures of any search space, computed exactly as ``tenas correlate`` computes them (same networks,
batch and seeds), so an architecture's values here equal its row in a correlate cache made with the same options.
"""

from __future__ import annotations

import argparse
import math


def register(subparsers: argparse._SubParsersAction) -> None:
    from tenas.commands.correlate import add_protocol_args
    from tenas.spaces import DEFAULT_SPACE

    p = subparsers.add_parser(
        "score",
        help="score architectures (NAS-Bench-201 cells, NAS-Bench-Macro strings, ...) with zero-cost proxies",
        description="Compute training-free proxies (TE-NAS kappa_N and R_N, NASWOT, synflow, snip, grasp, fisher, "
                    "grad_norm, jacob_cov, ZiCo, Zen-score, MeCo, SWAP, #params, FLOPs, ...; --proxies all lists "
                    "every registered one) for architectures of a search space, each in its paper's setting by "
                    "default (--protocol published; its C is NB201's width, read as C/16 of another space's).",
    )
    p.add_argument("arch", nargs="+", metavar="ARCH",
                   help="the space's architecture string (quote it); nb201: also a benchmark index 0..15624")
    p.add_argument("--space", default=DEFAULT_SPACE,
                   help=f"search space (default {DEFAULT_SPACE}): a registered name or module:Class / file.py:Class")
    p.add_argument("--proxies", default="all", help="comma-separated proxy names, or 'all' (default)")
    p.add_argument("--dataset", default="cifar10", choices=["cifar10", "cifar100", "ImageNet16-120"])
    p.add_argument("--data", metavar="PATH", help="dataset file/folder (default: embedded CIFAR-10 sample)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch and the weights (default 0)")
    p.add_argument("--oriented", action="store_true", help="print oriented values (higher = predicted better)")
    add_protocol_args(p)
    p.set_defaults(func=run)


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    if v == int(v) and a < 1e12:
        return str(int(v))
    return f"{v:.4g}" if a == 0 or 1e-3 <= a < 1e6 else f"{v:.3e}"


def run(args: argparse.Namespace) -> int:
    from tenas.cli import UserError
    from tenas.commands.correlate import protocol_from
    from tenas.correlate.protocol import load_inputs, score_cell
    from tenas.indicators.registry import get_proxy, resolve_proxies
    from tenas.spaces import SpaceError, get_space

    proxies = resolve_proxies(args.proxies)
    try:
        space = get_space(args.space)
        archs = [space.canonical(a) for a in args.arch]
    except (SpaceError, ValueError) as exc:
        raise UserError(str(exc)) from None
    protocol = protocol_from(args)
    protocol.check_needs(proxies)
    inputs = load_inputs(args.dataset, args.data, args.seed, protocol, need_crops="regions" in proxies)
    import torch

    torch.set_num_threads(1)  # the threads of a correlate worker: same values
    header = ["#"] + [f"{p}{'^' if get_proxy(p).higher_is_better or args.oriented else 'v'}" for p in proxies]
    table, notes = [], []
    for k, arch in enumerate(archs, 1):
        rows = score_cell(arch, proxies, args.dataset, args.seed, protocol, inputs, space=space)
        line = [str(k)]
        for name, raw, err, *_seconds in rows:
            v = get_proxy(name).orient(raw) if args.oriented else raw
            line.append(_fmt(v) if err is None or math.isfinite(v) else "fail")
            if err is not None:
                notes.append(f"#{k} {name}: {err}")
        table.append(line)
    widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
    print(f"{getattr(space, 'benchmark_name', space.name)} space, {args.dataset} batch from {inputs.source}, "
          f"seed {args.seed}; {protocol.describe(space)}")
    print("^: higher is predicted better, v: lower" + ("" if not args.oriented else " (values oriented)"))
    for r in [header] + table:
        print("  ".join(s.rjust(w) for s, w in zip(r, widths)))
    for k, arch in enumerate(archs, 1):
        record = space.benchmark(arch, args.dataset) if hasattr(space, "benchmark") else None
        print(f"#{k}: {arch}" + (f"\n    {space.format_benchmark(record)}" if record else ""))
    for n in notes:
        print(f"failed: {n}")
    return 0
