"""``load_dataset`` (name + path -> :class:`ImageSet`) and the batches fed to the NTK, regions and training."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from tenas.data import transforms as _t
from tenas.data._base import DatasetError, ImageSet, _fail, _info

SPLITS = ("train", "test", "val")  # 'val' is the same held-out split as 'test'


def load_dataset(name: str, path: str | Path | None = None, split: str = "train", image_size: int | None = None) -> ImageSet:
    """Load ``split`` of dataset ``name`` from ``path`` (npz, official folder or its parent, image-folder root;
    ``folder``: your own class folders, see :mod:`tenas.data.folder` for the split and normalisation options)."""
    info = _info(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    split = "test" if split == "val" else split
    if image_size is not None and info.image_size is not None and image_size != info.image_size:
        raise ValueError(f"{name} images are {info.image_size} x {info.image_size}; image_size={image_size} applies to "
                         "imagenet and folder only")
    if name == "folder":
        if path is None:
            raise DatasetError(f"folder has no embedded sample: pass --data PATH, where PATH is {info.layout}")
        from tenas.data.folder import load_folder

        return load_folder(path, split, image_size)
    if path is None:
        if name != "cifar10":
            raise DatasetError(f"{name} has no embedded sample: pass --data PATH, where PATH is {info.layout}")
        if split != "train":
            raise DatasetError(f"the embedded CIFAR-10 sample has training images only: for split {split!r} pass "
                               f"--data PATH, where PATH is {info.layout}")
        from tenas.data.cifar import load_embedded_sample

        return load_embedded_sample()
    path = Path(path).expanduser()
    if not path.exists():
        raise _fail(name, path, "no such file or folder")
    if name in ("cifar10", "cifar100"):
        from tenas.data.cifar import load_cifar

        return load_cifar(name, path, split)
    if name == "ImageNet16-120":
        from tenas.data.imagenet16 import load_imagenet16

        return load_imagenet16(path, split)
    from tenas.data.imagefolder import load_image_folder

    return load_image_folder(path, split, image_size)


def _padding(ds: ImageSet) -> int:
    """Zero padding of the random crop: the dataset's; own folders: an eighth of the side (CIFAR's 4 at 32)."""
    if ds.name == "folder":
        return max(1, round(int(ds.x.shape[1]) / 8))
    return _info(ds.name).padding


def _batch(ds: ImageSet, idx: torch.Tensor, generator: torch.Generator, augment: bool, cutout: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = idx.numpy()
    x = _t.to_tensor(np.asarray(ds.x[order]), ds)
    if augment or cutout:
        x = _t.augment(x, generator, _padding(ds) if augment else 0, flip=augment, cutout=cutout, fill=_t.black(ds))
    return x, torch.from_numpy(ds.y[order])


def sample_batch(ds: ImageSet, batch_size: int, generator: torch.Generator, augment: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch without replacement: normalised float32 N x 3 x H x W (+ crop/flip) and int64 labels."""
    if not 1 <= batch_size <= len(ds):
        raise DatasetError(f"cannot draw a batch of {batch_size} from {ds.name} at {ds.source}: it holds {len(ds)} images")
    idx = torch.randperm(len(ds), generator=generator)[:batch_size]
    return _batch(ds, idx, generator, augment, 0)


def iterate_batches(
    ds: ImageSet,
    batch_size: int,
    generator: torch.Generator,
    shuffle: bool = True,
    augment: bool = True,
    cutout: int = 0,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (images, labels) batches, shuffled and augmented from ``generator`` (for training loops)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(ds)
    if drop_last and batch_size > n:
        raise DatasetError(f"cannot make a full batch of {batch_size} from {ds.name} at {ds.source}: it holds {n} images")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield _batch(ds, order[start : start + batch_size], generator, augment, cutout)
