"""The ``tenas`` command: argument parsing and printing only.

Each subcommand lives in its own module under :mod:`tenas.commands` and exposes
``register(subparsers)`` which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Adding a subcommand means adding one module there.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from tenas import commands as _commands


class UserError(Exception):
    """An error caused by the user's input: printed as one clear line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The full ``tenas`` argument parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="tenas",
        description="Training-free neural architecture search (TE-NAS) and zero-cost proxies.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"tenas.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tenas`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"tenas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tenas {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
