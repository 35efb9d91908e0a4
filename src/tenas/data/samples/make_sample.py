"""How ``cifar10_train_2k.npz`` was made (run once by a maintainer; not imported by the package).

It keeps the first 200 images of each class of the CIFAR-10 training set, in official order
(``data_batch_1`` order), from the pixel-exact copy ``cifar10_train_10k.npz`` (= ``data_batch_1``):

    python src/tenas/data/samples/make_sample.py /path/to/cifar10_train_10k.npz

Keys: ``x`` uint8 2000 x 32 x 32 x 3 (NHWC, RGB), ``y`` int64 labels 0..9, ``index`` int64 position of
each image in ``data_batch_1``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PER_CLASS = 200


def main(source: str, out: str = str(Path(__file__).with_name("cifar10_train_2k.npz"))) -> None:
    with np.load(source, allow_pickle=False) as archive:
        x, y = archive["x"], archive["y"].astype(np.int64)
    keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:PER_CLASS] for c in range(10)]))
    np.savez_compressed(out, x=x[keep], y=y[keep], index=keep.astype(np.int64))
    print(f"wrote {out}: {keep.size} images, {np.bincount(y[keep]).tolist()} per class")


if __name__ == "__main__":
    main(*sys.argv[1:])
