"""Own images: a default NB201 search on 2,000 CIFAR-10 images as a 10-class PNG folder vs the same images as an
``.npz``, then 5 epochs of ``tenas train`` on the folder and the trained model loaded back (and ONNX, if installed).

    .venv/bin/python benchmarks/quality/own_folder.py [--images 2000] [--seed 0] [--epochs 5] [--out FILE.json] [--skip-npz]
                                              [-- MORE SEARCH ARGS]

The folder and the ``.npz`` hold the same images in the same order (class-major, as the folder is read), and the
folder search uses ``--normalization cifar10 --val-fraction 0`` so that both searches see identical inputs: the
same cell is expected, and the time ratio (folder / npz, decode of a cold cache included) shows what decoding
costs. Prints the figures side by side; needs ../shared/data/cifar/cifar10_train_10k.npz.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar"
NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_inputs(tmp: Path, n: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    from PIL import Image

    with np.load(SHARED / "cifar10_train_10k.npz") as z:
        x, y = z["x"][:n], z["y"][:n].astype(np.int64)
    order = np.lexsort((np.arange(n), y))  # class-major, original order within a class = the folder's order
    x, y = x[order], y[order]
    root = tmp / "photos"
    for i, (img, label) in enumerate(zip(x, y)):
        d = root / NAMES[label]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:05d}.png")
    npz = tmp / "same_images.npz"
    np.savez(npz, x=x, y=y)
    return root, npz, x, y


def search(argv: list[str]) -> tuple[float, dict]:
    from tenas.cli import main as tenas_main

    t0 = time.perf_counter()
    rc = tenas_main(argv)
    wall = time.perf_counter() - t0
    if rc != 0:
        sys.exit(rc)
    out = Path(argv[argv.index("--out") + 1])
    return wall, json.loads((out / "result.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--skip-npz", action="store_true", help="only the folder search (no ratio)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    ap.add_argument("extra", nargs="*", help="more `tenas search` arguments for both searches (after --)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["TENAS_CACHE"] = str(tmp / "cache")  # a cold cache: the folder search decodes
        root, npz, x, y = write_inputs(tmp, args.images)
        from tenas.data.folder import read_folder

        t0 = time.perf_counter()
        read_folder(root, val_fraction=0, cache=tmp / "probe-cache")
        decode_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm = read_folder(root, val_fraction=0, cache=tmp / "probe-cache")
        decode_warm = time.perf_counter() - t0
        assert warm.cached and np.array_equal(warm.train.x, x) and np.array_equal(warm.train.y, y)

        common = ["--space", "nb201", "--seed", str(args.seed), "--quiet", *args.extra]
        if args.workers:
            common += ["--workers", str(args.workers)]
        figures: dict = {"images": args.images, "seed": args.seed, "decode_cold_s": decode_cold,
                         "decode_warm_s": decode_warm}
        if not args.skip_npz:
            wall_npz, r_npz = search(["search", "--dataset", "cifar10", "--data", str(npz), "--out", str(tmp / "npz"),
                                      *common])
            figures.update(npz_wall_s=wall_npz, npz_cell=r_npz["arch"])
        wall_dir, r_dir = search(["search", "--dataset", "folder", "--data", str(root), "--normalization", "cifar10",
                                  "--val-fraction", "0", "--out", str(tmp / "dir"), *common])
        figures.update(folder_wall_s=wall_dir, folder_cell=r_dir["arch"])

        # 5 epochs on the folder (10 % of each class held out for validation), then the model back
        from tenas.cli import main as tenas_main

        train_out = tmp / "train"
        t0 = time.perf_counter()
        rc = tenas_main(["train", r_dir["arch"], "--space", "nb201", "--dataset", "folder", "--data", str(root),
                         "--epochs", str(args.epochs), "--out", str(train_out), "--quiet"]
                        + (["--export", "onnx"] if _has_onnx() else []))
        if rc != 0:
            sys.exit(rc)
        figures["train_s"] = time.perf_counter() - t0
        import csv

        with open(train_out / "log.csv") as f:
            rows = list(csv.DictReader(f))
        figures["val_acc_by_epoch"] = [round(float(r["test_acc"]), 2) for r in rows]
        figures["curves_png"] = (train_out / "curves.png").exists()
        figures.update(_reload_check(train_out, root))

    print()
    print(f"{args.images} CIFAR-10 training images, seed {args.seed}, default NB201 search")
    print(f"decode: {decode_cold:.2f} s cold, {decode_warm:.3f} s from the cache")
    if not args.skip_npz:
        print(f"{'':10s}{'wall s':>10s}  cell")
        print(f"{'.npz':10s}{figures['npz_wall_s']:10.1f}  {figures['npz_cell']}")
        print(f"{'folder':10s}{figures['folder_wall_s']:10.1f}  {figures['folder_cell']}")
        print(f"ratio folder / npz: {figures['folder_wall_s'] / figures['npz_wall_s']:.3f} (must be <= 1.2); "
              f"same cell: {figures['folder_cell'] == figures['npz_cell']}")
    print(f"train {args.epochs} epochs on the folder: {figures['train_s']:.1f} s; validation accuracy by epoch "
          f"{figures['val_acc_by_epoch']} (chance 10 %); curves.png written: {figures['curves_png']}")
    print(f"reloaded model predicts as the trained one on {figures['val_images']} validation images: "
          f"{figures['reload_same']}; ONNX: {figures.get('onnx_same', 'onnx not installed')}")
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


def _has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _reload_check(train_out: Path, root: Path) -> dict:
    """The module from load_trained vs the network rebuilt from the training checkpoint (and the ONNX file)."""
    import torch

    import tenas
    from tenas.data import to_tensor
    from tenas.data.folder import read_folder
    from tenas.train import PROTOCOLS, build_model

    meta = json.loads((train_out / "model.json").read_text())
    val = read_folder(root).val
    model = tenas.load_trained(train_out)
    net = build_model("nb201", meta["arch"], "folder", PROTOCOLS["nb201"], num_classes=meta["num_classes"])
    net.load_state_dict(torch.load(train_out / "checkpoint.pt", weights_only=True)["model"])
    net.eval()
    with torch.no_grad():
        want = net(to_tensor(val.x, val)).argmax(1).numpy()
    got = model.predict(val.x)
    out = {"val_images": len(val), "reload_same": bool(np.array_equal(got, want)),
           "reload_val_acc": float((got == val.y).mean() * 100)}
    if (train_out / "model.onnx").exists():
        from onnx.reference import ReferenceEvaluator

        xs = val.x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
        (logits,) = ReferenceEvaluator(str(train_out / "model.onnx")).run(None, {"images": xs[:64]})
        out["onnx_same"] = bool(np.array_equal(logits.argmax(1), got[:64]))
    return out


if __name__ == "__main__":
    main()
