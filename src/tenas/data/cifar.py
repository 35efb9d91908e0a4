"""CIFAR-10 / CIFAR-100 from the official python-pickle folders, ``.npz`` files, or the embedded sample.

Official layout (Krizhevsky 2009): ``cifar-10-batches-py/`` with ``data_batch_1..5`` and ``test_batch``;
``cifar-100-python/`` with ``train`` and ``test``. Each is a pickled dict (bytes keys when written by
Python 2) with ``data``: uint8 N x 3072, each row the 1024 red, then green, then blue values of a 32 x 32
image in row-major order, and ``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from tenas.data._base import ImageSet, _chw_rows_to_hwc, _fail, _info, _labels, _load_pickle, _read_npz, _rows

SAMPLE_FILE = "cifar10_train_2k.npz"
SAMPLE_SOURCE = "embedded CIFAR-10 sample (2,000 images)"

_FOLDER = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
_FILES = {
    ("cifar10", "train"): tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("cifar10", "test"): ("test_batch",),
    ("cifar100", "train"): ("train",),
    ("cifar100", "test"): ("test",),
}
_LABEL_KEY = {"cifar10": "labels", "cifar100": "fine_labels"}


def _official_folder(name: str, path: Path) -> Path | None:
    """The folder itself if it holds the official files, else its official-named child if that does."""
    marker = _FILES[(name, "test")][0]
    for folder in (path, path / _FOLDER[name]):
        if (folder / marker).is_file() or (folder / _FILES[(name, "train")][0]).is_file():
            return folder
    return None


def load_cifar(name: str, path: Path, split: str) -> ImageSet:
    """CIFAR-10 or CIFAR-100 (``name``) ``split`` ('train' or 'test') from an official folder or an npz."""
    info = _info(name)
    if path.is_file():  # an npz holds one split: the one the user chose by its file
        return _read_npz(path, name)
    folder = _official_folder(name, path)
    if folder is None:
        raise _fail(name, path, "no official CIFAR files in this folder")
    xs, ys = [], []
    for fname in _FILES[(name, split)]:
        file = folder / fname
        if not file.is_file():
            raise _fail(name, file, "this file of the official folder is missing")
        entry = _load_pickle(file, name)
        data = _rows(entry, "data", 3 * 32 * 32, name, file)
        y = _labels(entry, _LABEL_KEY[name], data.shape[0], name, file)
        if y.size and (y.min() < 0 or y.max() >= info.num_classes):
            raise _fail(name, file, f"labels range over {y.min()}..{y.max()}, expected 0..{info.num_classes - 1}")
        xs.append(_chw_rows_to_hwc(data, 32))
        ys.append(y)
    x = xs[0] if len(xs) == 1 else np.concatenate(xs)
    return ImageSet(x, np.concatenate(ys), name, info.num_classes, str(folder))


def load_embedded_sample() -> ImageSet:
    """The 2,000-image CIFAR-10 training sample shipped inside the package (200 per class)."""
    ref = resources.files("tenas.data").joinpath("samples", SAMPLE_FILE)
    with resources.as_file(ref) as file:
        return _read_npz(Path(file), "cifar10", source=SAMPLE_SOURCE)
