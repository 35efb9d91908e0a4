"""``tenas train``: train a found architecture from scratch (DARTS or NAS-Bench-201 protocol)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tenas.commands._folder import add_folder_options, folder_option_errors, folder_settings, read_own_folder
from tenas.commands._types import int_at_least
from tenas.spaces.genotypes import PUBLISHED

DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "imagenet", "folder")
HELD_OUT = 200  # images of the embedded sample kept for evaluation when no --data is given


_positive = int_at_least(1, "the value")
_nonneg = int_at_least(0, "the value")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train an architecture from scratch (DARTS / NAS-Bench-201 protocols)",
        description=(
            "Train the evaluation network of ARCH from scratch with the space's published protocol "
            "(darts: DARTS' CIFAR protocol, 600 epochs, or PC-DARTS' ImageNet mobile protocol; nb201: "
            "NAS-Bench-201's 200 epochs). Writes checkpoint.pt, log.csv and curves.png to --out after every "
            "epoch (running the same command again resumes after the last finished epoch), and at the end "
            "model.pt + model.json: tenas.load_trained(OUT) gives the module back. --dataset folder trains on "
            "your own images (one sub-folder per class), with the search's split and normalisation when ARCH "
            "is its result.json. darts ARCH may be a published cell by name (any case): "
            f"{', '.join(PUBLISHED)}; --list shows them with their sources and sizes."
        ),
    )
    p.add_argument("arch", metavar="ARCH_OR_GENOTYPE", nargs="?",
                   help="darts: a published cell's name (" + ", ".join(PUBLISHED) + "; see --list), a genotype "
                        "text \"Genotype(normal=[...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, "
                        "3, 4, 5])\" or a file (result.json of tenas search, or a text file); nb201: a cell string "
                        "or benchmark index")
    p.add_argument("--list", action="store_true",
                   help="list the published DARTS cells known by name (their source, and the parameters of their "
                        "CIFAR-10 evaluation network) and exit")
    p.add_argument("--space", default="darts",
                   help="search space of ARCH (default darts): darts, nb201, macro (NAS-Bench-Macro's 50-epoch recipe), "
                        "or your own as module:Class / file.py:Class")
    p.add_argument("--dataset", choices=DATASETS, default="cifar10", help="default cifar10")
    p.add_argument("--data", default=None,
                   help="training data: an official folder or an .npz (default: the embedded 2,000-image "
                        f"CIFAR-10 sample, {HELD_OUT} of them held out for evaluation); --dataset folder: your "
                        "images, validated on DIR/val or the held-out share")
    add_folder_options(p, saved="the search's in ARCH's result.json, else ")
    p.add_argument("--export", choices=("onnx",), default=None,
                   help="also write model.onnx (0..1 images in, logits out; needs pip install onnx)")
    p.add_argument("--test-data", default=None,
                   help="evaluation data (default: the test split of a --data folder; none for an .npz)")
    p.add_argument("--out", default=None, help="output folder (default runs/train-SPACE-DATASET-seedS)")
    p.add_argument("--epochs", type=_positive, default=None, help="default: the protocol's (600 / 250 / 200)")
    p.add_argument("--batch-size", type=_positive, default=None, help="default: the protocol's (96 / 1024 / 256)")
    p.add_argument("--lr", type=_positive_float, default=None, help="initial learning rate (default: the protocol's)")
    p.add_argument("--channels", type=_positive, default=None, help="network width C (default 36 / 48 / 16)")
    p.add_argument("--cells", type=_positive, default=None,
                   help="network depth: DARTS total cells (default 20 / 14), NB201 cells per stage (default 5)")
    p.add_argument("--seed", type=_nonneg, default=0, help="random seed (default 0)")
    p.add_argument("--max-train-images", type=_positive, default=None, help="train on this many images (quick runs)")
    p.add_argument("--max-test-images", type=_positive, default=None, help="evaluate on this many images")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--no-amp", action="store_true", help="on CUDA: train in float32 instead of mixed precision")
    p.add_argument("--no-channels-last", action="store_true",
                   help="keep tensors in NCHW memory (default on CPU: NHWC, 1.3-1.9x faster, the same function with "
                        "slightly less precise BatchNorm gradients)")
    p.add_argument("--restart", action="store_true", help="discard a checkpoint in --out and start again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _saved_folder(arch: str) -> dict:
    """The own-data settings (image size, split, normalisation) a search's result.json recorded, if ARCH is one."""
    import json

    path = Path(arch)
    try:
        if path.suffix != ".json" or not path.is_file():
            return {}
        own = json.loads(path.read_text(encoding="utf-8")).get("own_data") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {**own.get("settings", {}), **({"mean": own["mean"], "std": own["std"]} if own.get("mean") else {})}


def _load_data(args: argparse.Namespace):
    from dataclasses import replace

    from tenas.data import load_dataset
    from tenas.train.trainer import hold_out, subset

    if args.dataset == "folder":
        saved = _saved_folder(args.arch)
        if args.test_data is not None:
            from tenas.cli import UserError

            raise UserError("--dataset folder validates on DIR/val or the held-out share; drop --test-data")
        own = read_own_folder(args, saved)
        train, test = own.train, own.val
        if saved.get("mean") and folder_settings(args, saved)["normalization"] == "own":
            # the search's statistics (the same images give the same values; kept so the pair cannot drift)
            norm = {"mean": tuple(saved["mean"]), "std": tuple(saved["std"])}
            train = replace(train, **norm)
            test = replace(test, **norm) if test is not None else None
    elif args.data is None:
        sample = load_dataset(args.dataset, None, "train")  # cifar10 only; others raise a clear error
        if args.test_data is not None:
            train, test = sample, load_dataset(args.dataset, args.test_data, "test")
        else:
            train, test = hold_out(sample, HELD_OUT, seed=0)
    else:
        train = load_dataset(args.dataset, args.data, "train")
        if args.test_data is not None:
            test = load_dataset(args.dataset, args.test_data, "test")
        elif Path(args.data).is_dir():
            test = load_dataset(args.dataset, args.data, "test")
        else:
            test = None
    train = subset(train, args.max_train_images, seed=args.seed)
    if test is not None:
        test = subset(test, args.max_test_images, seed=0)
    return train, test


def run(args: argparse.Namespace) -> int:
    import torch

    from tenas.cli import UserError
    from tenas.train import Trainer, build_model, protocol_for, resolve_arch
    from tenas.train.trainer import CHECKPOINT, CURVES, LOG

    if args.list:
        from tenas.spaces import get_space

        table = getattr(get_space(args.space), "published_table", lambda: None)()
        if table is None:
            raise UserError(f"space {args.space!r} names no published architectures (--list: the published cells "
                            f"of a space that has them, e.g. the default, darts); give its architecture as text")
        print(table)
        return 0
    if args.arch is None:
        raise UserError("give ARCH_OR_GENOTYPE (a published name, a genotype text or a file), or --list to see "
                        "the published names")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but torch sees no CUDA device")
    folder_option_errors(args)
    if args.export == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UserError("--export onnx needs the onnx package: pip install onnx (or drop --export)") from None
    try:
        arch = resolve_arch(args.space, args.arch)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    protocol = protocol_for(args.space, args.dataset).with_overrides(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr
    )
    out = Path(args.out or f"runs/train-{args.space}-{args.dataset}-seed{args.seed}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    if args.restart:
        for name in (CHECKPOINT, LOG, CURVES):
            if (out / name).exists():
                (out / name).unlink()

    train, test = _load_data(args)
    size = int(train.x.shape[1])
    if args.dataset == "folder" and size != 32 and protocol.auxiliary_weight > 0:
        protocol = protocol.with_overrides(auxiliary_weight=0.0)  # the head is laid out for 32 x 32 inputs
        print(f"note: no auxiliary head at {size} x {size} (DARTS lays it out for 32 x 32)", file=sys.stderr)
    torch.manual_seed(args.seed)  # the initial weights
    model = build_model(args.space, arch, args.dataset, protocol, channels=args.channels, cells=args.cells,
                        num_classes=train.num_classes)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True
    identity = {
        "space": args.space,
        "arch": arch,
        "dataset": args.dataset,
        "data": str(Path(args.data).resolve()) if args.data else "embedded",
        "test_data": str(Path(args.test_data).resolve()) if args.test_data else None,
        "channels": args.channels or protocol.channels,
        "cells": args.cells or protocol.cells,
    }
    if args.dataset == "folder":
        identity.update(folder_settings(args, _saved_folder(args.arch)), classes=train.num_classes,
                        mean=list(train.mean), std=list(train.std))
    trainer = Trainer(model, protocol, train, test, out, device=args.device, seed=args.seed,
                      amp=not args.no_amp, progress=not args.quiet, identity=identity,
                      channels_last=False if args.no_channels_last else None)
    params = sum(p.numel() for n, p in model.named_parameters() if "auxiliary" not in n) / 1e6
    resumed = trainer.load_checkpoint()
    from tenas.spaces import get_space

    name = getattr(get_space(args.space), "published_name", lambda a: "")(args.arch)
    print(f"{args.space} {name + ': ' if name else ''}{arch}", file=sys.stderr)
    print(f"{params:.3f} M parameters (auxiliary head excluded); protocol {protocol.name}: {protocol.epochs} epochs, "
          f"batch {protocol.batch_size}, lr {protocol.lr}; {len(train)} training images ({train.source}); "
          f"{'no evaluation data' if test is None else f'{len(test)} evaluation images ({test.source})'}; "
          f"device {args.device}{' with AMP' if trainer.amp else ''}", file=sys.stderr)
    if resumed:
        print(f"resuming {out}: {trainer.epoch} of {protocol.epochs} epochs already done", file=sys.stderr)

    def on_epoch(row: dict) -> None:
        test_part = "" if test is None else f"  test loss {row['test_loss']:.4f} acc {row['test_acc']:.2f}%"
        print(f"epoch {row['epoch']}/{protocol.epochs}  lr {row['lr']:.5f}  train loss {row['train_loss']:.4f} "
              f"acc {row['train_acc']:.2f}%{test_part}  {row['seconds']:.1f} s ({row['images_per_s']:.0f} img/s)",
              flush=True)

    history = trainer.fit(on_epoch=on_epoch, resume=False)
    written = _write_model(args, trainer.model, arch, protocol, train, out)
    if history:
        last = history[-1]
        final = "" if test is None else f", test accuracy {last['test_acc']:.2f}%"
        print(f"done: {len(history)} epochs{final}; {out / LOG}, {out / CURVES}, {out / CHECKPOINT}")
    print(f"model:   {', '.join(str(p) for p in written)}; back as a module: tenas.load_trained({str(out)!r})")
    return 0


def _write_model(args: argparse.Namespace, model, arch: str, protocol, train, out: Path) -> list[Path]:
    """model.pt + model.json (and model.onnx with --export onnx) of the trained network."""
    from tenas.data import normalization
    from tenas.train.export import META, ONNX, WEIGHTS, export_onnx, load_trained, save_trained

    mean, std = normalization(train)
    meta = {
        "space": args.space, "arch": arch, "dataset": args.dataset, "num_classes": train.num_classes,
        "classes": list(train.classes) if train.classes else None, "image_size": int(train.x.shape[1]),
        "mean": list(mean), "std": list(std), "protocol": protocol.name,
        "auxiliary_weight": protocol.auxiliary_weight,
        "channels": args.channels or protocol.channels, "cells": args.cells or protocol.cells,
        "epochs": protocol.epochs,
    }
    save_trained(out, model, meta)
    written = [out / WEIGHTS, out / META]
    if args.export == "onnx":
        written.append(export_onnx(load_trained(out), out / ONNX))
    return written
