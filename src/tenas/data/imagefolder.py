"""ImageNet-1k (or any subset) as an image folder: ``<root>/train/<class>/*.JPEG``, ``<root>/val/<class>/...``.

Classes are the sorted sub-folder names of ``train`` (``val`` must use the same names), as in
torchvision's ``ImageFolder``. Images are decoded with Pillow only when indexed (a full ImageNet does not
fit in memory): converted to RGB, the shorter side resized to ``image_size`` (bilinear), centre-cropped to
``image_size`` x ``image_size``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tenas.data._base import ImageSet, _fail

NAME = "imagenet"
DEFAULT_IMAGE_SIZE = 224
EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_SPLIT_DIR = {"train": "train", "test": "val"}


class FolderImages:
    """Lazily decoded images: ``len``, ``shape`` and ``x[i]`` / ``x[indices]`` -> uint8 (N x) S x S x 3."""

    def __init__(self, files: tuple[Path, ...], image_size: int) -> None:
        self.files = files
        self.image_size = image_size
        self.shape = (len(files), image_size, image_size, 3)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self._decode(self.files[index])
        picks = range(len(self.files))[index] if isinstance(index, slice) else np.asarray(index).reshape(-1)
        out = np.empty((len(picks), *self.shape[1:]), dtype=np.uint8)
        for j, i in enumerate(picks):
            out[j] = self._decode(self.files[int(i)])
        return out

    def _decode(self, file: Path) -> np.ndarray:
        from PIL import Image

        s = self.image_size
        try:
            with Image.open(file) as img:
                img = img.convert("RGB")
                w, h = img.size
                scale = s / min(w, h)
                nw, nh = max(s, round(w * scale)), max(s, round(h * scale))
                img = img.resize((nw, nh), Image.Resampling.BILINEAR)
                left, top = (nw - s) // 2, (nh - s) // 2
                return np.asarray(img.crop((left, top, left + s, top + s)), dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise _fail(NAME, file, f"not a readable image, truncated or corrupt ({type(exc).__name__}: {exc})") from None


def _classes(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def load_image_folder(path: Path, split: str, image_size: int | None) -> ImageSet:
    """``split`` ('train' or 'test' = ``val/``) of an image-folder root, decoded lazily at ``image_size``."""
    size = DEFAULT_IMAGE_SIZE if image_size is None else int(image_size)
    if size < 1:
        raise ValueError(f"image_size must be a positive number of pixels, got {image_size}")
    if not path.is_dir() or not ((path / "train").is_dir() or (path / "val").is_dir()):
        raise _fail(NAME, path, "no train/ or val/ sub-folder here")
    split_dir = path / _SPLIT_DIR[split]
    if not split_dir.is_dir():
        raise _fail(NAME, split_dir, "this split's folder is missing")
    classes = _classes(path / "train") if (path / "train").is_dir() else _classes(split_dir)
    index = {c: i for i, c in enumerate(classes)}
    files: list[Path] = []
    labels: list[int] = []
    for cls in _classes(split_dir):
        if cls not in index:
            raise _fail(NAME, split_dir / cls, "this class folder has no counterpart in train/")
        found = sorted(e.name for e in os.scandir(split_dir / cls) if e.is_file() and e.name.lower().endswith(EXTENSIONS))
        files.extend(split_dir / cls / f for f in found)
        labels.extend([index[cls]] * len(found))
    if not files:
        raise _fail(NAME, split_dir, "no image files (.JPEG, .png, ...) in its class sub-folders")
    return ImageSet(FolderImages(tuple(files), size), np.asarray(labels, dtype=np.int64), NAME, len(classes), str(split_dir))
