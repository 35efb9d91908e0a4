"""ImageNet16-120 (NAS-Bench-201): ImageNet downsampled to 16 x 16, classes 1..120 only.

Official layout (Chrabaszcz et al. 2017, "A Downsampled Variant of ImageNet"): a folder (``ImageNet16``
in NB201) with pickled ``train_data_batch_1..10`` and ``val_data``, each a dict with ``data`` uint8
N x 768 (16 x 16 x 3, all red then green then blue values, each row-major, like CIFAR) and ``labels``
1..1000. Images labelled 1..120 are kept and relabelled 0..119, as in NB201.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tenas.data._base import ImageSet, _chw_rows_to_hwc, _fail, _info, _labels, _load_pickle, _read_npz, _rows

NAME = "ImageNet16-120"
SIDE = 16
KEEP = 120
_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
_VAL = ("val_data",)
_FOLDERS = ("ImageNet16", "ImageNet16-120")


def _official_folder(path: Path) -> Path | None:
    for folder in (path, *(path / child for child in _FOLDERS)):
        if (folder / _VAL[0]).is_file() or (folder / _TRAIN[0]).is_file():
            return folder
    return None


def load_imagenet16(path: Path, split: str) -> ImageSet:
    """ImageNet16-120 ``split`` ('train' or 'test' = ``val_data``) from the official folder or an npz."""
    if path.is_file():  # an npz holds one split: the one the user chose by its file
        return _read_npz(path, NAME)
    folder = _official_folder(path)
    if folder is None:
        raise _fail(NAME, path, "no official ImageNet16 files in this folder")
    xs, ys = [], []
    for fname in _TRAIN if split == "train" else _VAL:
        file = folder / fname
        if not file.is_file():
            raise _fail(NAME, file, "this file of the official folder is missing")
        entry = _load_pickle(file, NAME)
        data = _rows(entry, "data", 3 * SIDE * SIDE, NAME, file)
        y = _labels(entry, "labels", data.shape[0], NAME, file)
        if y.size and (y.min() < 1 or y.max() > 1000):
            raise _fail(NAME, file, f"labels range over {y.min()}..{y.max()}, expected 1..1000")
        keep = y <= KEEP
        xs.append(_chw_rows_to_hwc(data[keep], SIDE))  # filter first: only 120 of 1000 classes stay in memory
        ys.append(y[keep] - 1)
    x = np.concatenate(xs)
    return ImageSet(x, np.concatenate(ys), NAME, _info(NAME).num_classes, str(folder))
