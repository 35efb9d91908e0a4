"""``tenas bench BENCHMARK ARCH_OR_INDEX [--json]``: what a benchmark says about a cell.

Benchmarks: ``nb201`` (the table shipped with tenas), ``nats`` (the official NATS-Bench /
NAS-Bench-201 files, ``--source PATH``; needs the ``nats_bench`` package) and ``macro``
(NAS-Bench-Macro's CIFAR-10 table shipped with tenas; ARCH is an 8-digit string such as 22212220).
"""

from __future__ import annotations

import argparse
import json

BENCHMARKS = ("nb201", "nats", "macro")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench",
        help="look up a cell in a benchmark (accuracies, params, FLOPs)",
        description="Look up a NAS-Bench-201 cell or a NAS-Bench-Macro architecture: test accuracies, "
        "parameters and FLOPs.",
    )
    p.add_argument("benchmark", metavar="BENCHMARK", help=f"benchmark name: {', '.join(BENCHMARKS)}")
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


def run_macro(args: argparse.Namespace) -> int:
    """``tenas bench macro ARCH``: the NAS-Bench-Macro record of an 8-digit architecture string."""
    from tenas.cli import UserError
    from tenas.spaces.macro.bench import format_record, lookup

    try:
        record = lookup(args.arch)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(record.to_dict(), indent=2) if args.json else format_record(record))
    return 0


def run(args: argparse.Namespace) -> int:
    from tenas.bench.nb201 import format_record, lookup
    from tenas.cli import UserError

    name = args.benchmark.lower()
    if name == "macro":
        return run_macro(args)
    if name == "nb201":
        record, title = lookup(args.arch), "NAS-Bench-201"
    elif name == "nats":
        if not args.source:
            raise UserError("benchmark 'nats' needs --source PATH (a NATS-Bench topology file or directory)")
        from tenas.bench.nats import NatsBenchSource

        try:
            source = NatsBenchSource(args.source, hp=args.hp)
        except ImportError as exc:
            raise UserError(str(exc)) from None
        record, title = source.lookup(args.arch), f"NATS-Bench ({args.source}, hp={args.hp})"
    else:
        raise UserError(f"unknown benchmark {args.benchmark!r}; available: {', '.join(BENCHMARKS)}")
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
    else:
        print(format_record(record, title=title))
    return 0
