"""Datasets for search and training, with no downloads ever.

``load_dataset(name, path, split)`` reads CIFAR-10 / CIFAR-100 (official python folders or ``.npz``),
ImageNet16-120 (official downsampled pickles) and ImageNet (image folder); with no path, CIFAR-10 is a
2,000-image sample shipped in the package. ``sample_batch`` / ``iterate_batches`` turn an
:class:`ImageSet` into normalised, augmented tensors; every random choice comes from a ``torch.Generator``.
Any unreadable input raises :class:`DatasetError` naming the path and the layout expected.
"""

from __future__ import annotations

from tenas.data._base import DATASETS, DatasetError, ImageSet
from tenas.data.loader import SPLITS, iterate_batches, load_dataset, sample_batch
from tenas.data.transforms import augment, black, normalization, to_tensor

__all__ = [
    "DATASETS",
    "SPLITS",
    "DatasetError",
    "ImageSet",
    "augment",
    "black",
    "iterate_batches",
    "load_dataset",
    "normalization",
    "sample_batch",
    "to_tensor",
]
