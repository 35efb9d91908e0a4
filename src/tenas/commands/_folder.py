"""The options of ``--dataset folder`` (your own images) shared by ``tenas search`` and ``tenas train``."""

from __future__ import annotations

import argparse
import sys

from tenas.commands._types import int_at_least

DEFAULTS = {"image_size": 32, "val_fraction": 0.1, "normalization": "own"}
_FLAGS = {"image_size": "--image-size", "val_fraction": "--val-fraction", "normalization": "--normalization"}


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def add_folder_options(p: argparse.ArgumentParser, saved: str = "") -> None:
    """--image-size, --val-fraction, --normalization (default None: ``saved``'s values, else :data:`DEFAULTS`)."""
    g = p.add_argument_group("own images (--dataset folder --data DIR: one sub-folder of images per class)")
    g.add_argument("--image-size", type=int_at_least(4, "--image-size"), default=None,
                   help=f"side the images are resized to (shorter side, then centre crop; default {saved}32)")
    g.add_argument("--val-fraction", type=_fraction, default=None,
                   help=f"share of each class held out for validation when DIR has no val/ (default {saved}0.1)")
    g.add_argument("--normalization", default=None,
                   help=f"own: the training images' per-channel mean and std (default {saved}own); or a dataset's "
                        "constants (cifar10, cifar100, ImageNet16-120, imagenet)")


def folder_option_errors(args: argparse.Namespace) -> None:
    """One clear message when folder options are given for another dataset."""
    from tenas.cli import UserError

    if args.dataset != "folder":
        given = [flag for key, flag in _FLAGS.items() if getattr(args, key) is not None]
        if given:
            raise UserError(f"{', '.join(given)} apply to --dataset folder only")


def folder_settings(args: argparse.Namespace, saved: dict | None = None) -> dict:
    """image_size, val_fraction, normalization: given, else ``saved`` (a search's), else :data:`DEFAULTS`."""
    saved = saved or {}
    return {k: getattr(args, k) if getattr(args, k) is not None else saved.get(k, d) for k, d in DEFAULTS.items()}


def read_own_folder(args: argparse.Namespace, saved: dict | None = None):
    """--dataset folder: the decoded folder (:class:`tenas.data.folder.FolderData`); skipped files are printed."""
    from tenas.cli import UserError
    from tenas.data.folder import read_folder

    if args.data is None:
        raise UserError("--dataset folder needs --data DIR: a folder with one sub-folder of images per class")
    s = folder_settings(args, saved)
    try:
        data = read_folder(args.data, s["image_size"], s["val_fraction"], s["normalization"])
    except ValueError as e:  # DatasetError included
        raise UserError(str(e)) from None
    if data.skipped:
        more = f"\n  ... and {len(data.skipped) - 5} more" if len(data.skipped) > 5 else ""
        print(f"warning: skipped {len(data.skipped)} image file(s) that could not be decoded:\n  "
              + "\n  ".join(data.skipped[:5]) + more, file=sys.stderr)
    if data.ignored:
        print(f"note: ignored {data.ignored} file(s) that are not .png/.jpg/.jpeg/.bmp/.webp images", file=sys.stderr)
    print(f"{data.root}: {len(data.classes)} classes, {len(data.train)} training and "
          f"{0 if data.val is None else len(data.val)} validation images at {s['image_size']} x {s['image_size']}"
          f"{' (decoded before: from the cache)' if data.cached else ''}", file=sys.stderr)
    return data
