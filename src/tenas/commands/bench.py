"""``tenas bench BENCHMARK ARCH_OR_INDEX [--json]``: what a benchmark says about an architecture.

BENCHMARK is a search space with a benchmark table (its ``bench_record``): ``nb201`` (the NAS-Bench-201 table
shipped with tenas), ``macro`` (NAS-Bench-Macro's CIFAR-10 table shipped with tenas; ARCH is an 8-digit string
such as 22212220), or a space of your own (``module:Class`` / ``file.py:Class``); or ``nats``: the official
NATS-Bench / NAS-Bench-201 files (``--source PATH``; needs the ``nats_bench`` package).
"""

from __future__ import annotations

import argparse
import json

#: the one benchmark that is not a search space's own table (it reads the user's NATS-Bench files)
NATS = "nats"


def register(subparsers: argparse._SubParsersAction) -> None:
    from tenas.spaces import list_spaces

    names = list_spaces()
    p = subparsers.add_parser(
        "bench",
        help="look up an architecture in a benchmark (accuracies, params, FLOPs)",
        description="Look up a NAS-Bench-201 cell, a NAS-Bench-Macro architecture (or one of your own space's "
        "benchmark): test accuracies, parameters and FLOPs.",
    )
    p.add_argument("benchmark", metavar="BENCHMARK",
                   help=f"a search space with a benchmark ({', '.join(names)}; or module:Class / file.py:Class), "
                        f"or {NATS} (the official NATS-Bench files, --source)")
    p.add_argument(
        "arch",
        metavar="ARCH_OR_INDEX",
        help="nb201/nats: cell string |op~0|+|op~0|op~1|+|op~0|op~1|op~2| (quote it in the shell) or index "
        "0..15624; macro: 8 digits 0-2, one per layer (0 identity, 1 ir_k3_e3, 2 ir_k5_e6), e.g. 22212220",
    )
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--source", metavar="PATH", help="nats: the NATS-Bench topology file or fast-mode directory")
    p.add_argument("--hp", default="200", help="nats: training schedule in epochs (default 200)")
    p.set_defaults(func=run)


def _nats(args: argparse.Namespace) -> tuple[dict, str]:
    from tenas.bench.nb201 import format_record
    from tenas.cli import UserError

    if not args.source:
        raise UserError(f"benchmark '{NATS}' needs --source PATH (a NATS-Bench topology file or directory)")
    from tenas.bench.nats import NatsBenchSource

    try:
        source = NatsBenchSource(args.source, hp=args.hp)
    except ImportError as exc:
        raise UserError(str(exc)) from None
    record = source.lookup(args.arch)
    return record.to_dict(), format_record(record, title=f"NATS-Bench ({args.source}, hp={args.hp})")


def run(args: argparse.Namespace) -> int:
    from tenas.cli import UserError
    from tenas.spaces import SpaceError, get_space, list_spaces

    name = args.benchmark.lower() if ":" not in args.benchmark else args.benchmark
    if name == NATS:
        record, text = _nats(args)
    else:
        try:
            space = get_space(name)
        except SpaceError as exc:
            raise UserError(f"unknown benchmark {args.benchmark!r}; available: {', '.join([*list_spaces(), NATS])} "
                            f"({exc})") from None
        try:
            found = space.bench_record(args.arch) if hasattr(space, "bench_record") else None
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if found is None:
            raise UserError(f"space {args.benchmark!r} has no benchmark to look {args.arch!r} up in")
        record, text = found
    print(json.dumps(record, indent=2) if args.json else text)
    return 0
