"""Your own images: a folder with one sub-folder per class, decoded once, split, normalised by its own statistics.

Layout: ``DIR/<class>/*.{png,jpg,jpeg,bmp,webp}`` (sorted class names are the labels), or ``DIR/train/<class>/...``
with an optional ``DIR/val/<class>/...``. Without ``val/`` a seeded, stratified split holds out
``val_fraction`` of every class. Images of any size and mode are converted to RGB, their shorter side resized
to ``image_size`` (bilinear, antialiased) and centre-cropped; an image already ``image_size`` square is kept
pixel-exact. The decoded uint8 array is cached (keyed by every file's path, size and mtime, and the size) in
the user cache directory, so a second search or the training does not decode again.

Bad input: files with other extensions are ignored; an image that cannot be decoded (corrupt, truncated,
unreadable) is skipped, counted and named in :attr:`FolderData.skipped` (one bad photo among thousands should
not stop a search; the caller prints the count). A folder with no class sub-folders, fewer than two classes, a
class with no readable image, or an unreadable class folder raises :class:`DatasetError` naming the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tenas.data._base import DatasetError, ImageSet, _info

NAME = "folder"
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DEFAULT_IMAGE_SIZE = 32
DEFAULT_VAL_FRACTION = 0.1
SPLIT_SEED = 0  # the stratified split is a property of the folder, not of a run's --seed
_CACHE_VERSION = 1

__all__ = ["FolderData", "load_folder", "read_folder", "cache_dir"]


@dataclass(frozen=True, eq=False)
class FolderData:
    """A decoded folder: ``train`` and ``val`` image sets (``val`` None when nothing is held out), the class
    names, the files skipped as unreadable (``'path: reason'``), the count of ignored non-image files, and
    whether the decoded array came from the cache."""

    root: str
    train: ImageSet
    val: ImageSet | None
    classes: tuple[str, ...]
    skipped: tuple[str, ...]
    ignored: int
    cached: bool

    def summary(self) -> dict:
        """Plain data for ``result.json``: classes, counts, normalisation, skipped files."""
        return {
            "root": self.root,
            "classes": list(self.classes),
            "train_images": len(self.train),
            "val_images": 0 if self.val is None else len(self.val),
            "image_size": int(self.train.x.shape[1]),
            "mean": list(self.train.mean or ()),
            "std": list(self.train.std or ()),
            "skipped": len(self.skipped),
            "skipped_files": list(self.skipped[:20]),
            "ignored_non_images": self.ignored,
        }


def _fail(path: Path | str, problem: str) -> DatasetError:
    return DatasetError(f"cannot read an image folder from {str(path)!r}: {problem}; expected {_info(NAME).layout}")


def cache_dir() -> Path:
    """Where decoded folders are cached: ``$TENAS_CACHE`` or ``$XDG_CACHE_HOME/tenas`` (``~/.cache/tenas``)."""
    if os.environ.get("TENAS_CACHE"):
        return Path(os.environ["TENAS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "tenas"


# --------------------------------------------------------------------------------------------------
# scanning
# --------------------------------------------------------------------------------------------------
def _subdirs(folder: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise _fail(folder, f"cannot list the folder ({exc.strerror or exc})") from None


def _class_files(folder: Path) -> tuple[list[Path], int]:
    """The image files of one class folder (sorted) and the number of other files ignored."""
    try:
        entries = sorted((e.name, e.is_file()) for e in os.scandir(folder))
    except OSError as exc:
        raise _fail(folder, f"cannot list this class folder ({exc.strerror or exc})") from None
    files = [folder / n for n, is_file in entries if is_file and n.lower().endswith(EXTENSIONS) and not n.startswith(".")]
    ignored = sum(1 for n, is_file in entries if is_file) - len(files)
    return files, ignored


def _scan(root: Path, classes: list[str]) -> tuple[list[Path], list[int], int]:
    files: list[Path] = []
    labels: list[int] = []
    ignored = 0
    for label, cls in enumerate(classes):
        found, skipped = _class_files(root / cls)
        ignored += skipped
        files.extend(found)
        labels.extend([label] * len(found))
    return files, labels, ignored


# --------------------------------------------------------------------------------------------------
# decoding and the cache
# --------------------------------------------------------------------------------------------------
def _decode(file: Path, size: int) -> np.ndarray:
    """One image as uint8 size x size x 3: RGB, shorter side resized to ``size``, centre crop."""
    from PIL import Image

    with Image.open(file) as img:
        img = img.convert("RGB")  # grayscale, palette, RGBA (alpha dropped), CMYK
        w, h = img.size
        if (w, h) != (size, size):
            scale = size / min(w, h)
            nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
            left, top = (nw - size) // 2, (nh - size) // 2
            img = img.crop((left, top, left + size, top + size))
        return np.asarray(img, dtype=np.uint8)


def _key(root: Path, files: list[Path], labels: list[int], size: int) -> str:
    h = hashlib.sha256(f"tenas-folder v{_CACHE_VERSION} size {size}\n".encode())
    for f, label in zip(files, labels):
        try:
            st = f.stat()
            h.update(f"{f.relative_to(root)}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{f.relative_to(root)}\t{label}\tunreadable\n".encode())
    return h.hexdigest()[:32]


def _read_cache(path: Path, n: int) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            x, ok, skipped = z["x"], z["ok"], json.loads(str(z["skipped"]))
    except Exception:  # a missing, partial or foreign cache file is simply rebuilt
        return None
    if ok.shape != (n,) or x.shape[0] != int(ok.sum()):
        return None
    return x, ok, skipped


def _write_cache(path: Path, x: np.ndarray, ok: np.ndarray, skipped: list[str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, x=x, ok=ok, skipped=np.asarray(json.dumps(skipped)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only cache costs a decode next time, nothing else
        warnings.warn(f"could not cache the decoded images in {path.parent} ({exc}); they are decoded again next time",
                      stacklevel=3)


def _decode_all(root: Path, files: list[Path], labels: list[int], size: int, cache: Path | None
                ) -> tuple[np.ndarray, np.ndarray, list[str], bool]:
    """(images of the readable files, their mask over ``files``, skipped 'file: reason', from cache?)."""
    target = None if cache is None else cache / "folders" / f"{_key(root, files, labels, size)}.npz"
    if target is not None and target.exists():
        hit = _read_cache(target, len(files))
        if hit is not None:
            return (*hit, True)
    from PIL import Image

    x = np.empty((len(files), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    skipped: list[str] = []
    for i, f in enumerate(files):
        try:
            x[i] = _decode(f, size)
            ok[i] = True
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            skipped.append(f"{f}: {type(exc).__name__}: {exc}")
    x = x[ok]
    if target is not None:
        _write_cache(target, x, ok, skipped)
    return x, ok, skipped, False


# --------------------------------------------------------------------------------------------------
# splitting and normalisation
# --------------------------------------------------------------------------------------------------
def _stratified(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the held-out images: ``round(fraction * n)`` of each class (at least one when
    ``fraction > 0`` and the class has two or more, never the whole class), chosen by a seeded permutation."""
    val = np.zeros(labels.shape[0], dtype=bool)
    if fraction <= 0:
        return val
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = min(max(1, round(fraction * len(rows))), len(rows) - 1)
        val[rng.permutation(rows)[:k]] = True
    return val


def _stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (0..1) over every pixel of uint8 N x H x W x 3, in float64."""
    flat = x.reshape(-1, 3).astype(np.float64) / 255.0
    mean = flat.mean(0)
    std = flat.std(0)
    return tuple(float(m) for m in mean), tuple(float(max(s, 1e-3)) for s in std)


def _norm(normalization: str | None, train: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if normalization in (None, "own"):
        return _stats(train)
    try:
        info = _info(normalization)
    except ValueError:
        raise ValueError(f"unknown normalization {normalization!r}; use 'own' (the training images' statistics) or a "
                         f"dataset name: cifar10, cifar100, ImageNet16-120, imagenet") from None
    if normalization == NAME:
        raise ValueError("normalization 'folder' is not a dataset's constants; use 'own'")
    return tuple(info.mean), tuple(info.std)


# --------------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------------
def read_folder(
    path: str | Path,
    image_size: int = DEFAULT_IMAGE_SIZE,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    normalization: str | None = None,
    cache: str | Path | None | bool = True,
) -> FolderData:
    """Decode (or take from the cache) an own-images folder and split it into train / val image sets.

    ``normalization``: None / ``'own'`` (the training images' per-channel mean and std) or a dataset name
    whose constants to use. ``cache``: True (the user cache directory), a folder, or False (decode every time).
    """
    root = Path(path).expanduser()
    size = int(image_size)
    if size < 4:
        raise ValueError(f"image_size must be at least 4 pixels, got {image_size}")
    if not 0 <= float(val_fraction) < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not root.exists():
        raise _fail(root, "no such folder")
    if not root.is_dir():
        raise _fail(root, "this is a file, not a folder")
    top = _subdirs(root)
    has_split = "train" in top
    train_root = root / "train" if has_split else root
    classes = _subdirs(train_root)
    if not classes:
        raise _fail(train_root, "no class sub-folders here")
    if len(classes) < 2:
        raise _fail(train_root, f"only one class sub-folder ({classes[0]!r}); a classifier needs at least two")
    cache_root = cache_dir() if cache is True else (None if cache in (False, None) else Path(cache).expanduser())

    files, labels, ignored = _scan(train_root, classes)
    val_files: list[Path] = []
    val_labels: list[int] = []
    if has_split and (root / "val").is_dir():
        index = {c: i for i, c in enumerate(classes)}
        for cls in _subdirs(root / "val"):
            if cls not in index:
                raise _fail(root / "val" / cls, "this class folder has no counterpart in train/")
            found, skip = _class_files(root / "val" / cls)
            ignored += skip
            val_files.extend(found)
            val_labels.extend([index[cls]] * len(found))
    all_files = files + val_files
    all_labels = labels + val_labels
    x, ok, skipped, cached = _decode_all(root, all_files, all_labels, size, cache_root)
    y = np.asarray(all_labels, dtype=np.int64)[ok]
    from_val = (np.arange(len(all_files)) >= len(files))[ok]

    train_y = y[~from_val]
    counts = np.bincount(train_y, minlength=len(classes))
    empty = [classes[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        raise _fail(train_root / empty[0], f"no readable image in this class folder ({len(empty)} class(es) without "
                    f"one: {', '.join(empty[:5])}); add images or remove the folder"
                    + (f"; {len(skipped)} file(s) could not be decoded, e.g. {skipped[0]}" if skipped else ""))
    if has_split:
        held = from_val
    else:
        held = _stratified(y, float(val_fraction), SPLIT_SEED)
    mean, std = _norm(normalization, x[~held])
    names = tuple(classes)
    train = ImageSet(x[~held], y[~held], NAME, len(classes), f"{root} (train)", mean, std, names)
    val = ImageSet(x[held], y[held], NAME, len(classes), f"{root} (val)", mean, std, names) if held.any() else None
    return FolderData(str(root.resolve()), train, val, names, tuple(skipped), ignored, cached)


def load_folder(path: str | Path, split: str = "train", image_size: int | None = None,
                val_fraction: float = DEFAULT_VAL_FRACTION, normalization: str | None = None,
                cache: str | Path | None | bool = True) -> ImageSet:
    """One split (``'train'``, or ``'test'`` / ``'val'`` for the held-out images) of an own-images folder."""
    data = read_folder(path, DEFAULT_IMAGE_SIZE if image_size is None else image_size, val_fraction, normalization, cache)
    if split == "train":
        return data.train
    if data.val is None:
        raise _fail(path, "nothing is held out for validation (no val/ folder and val_fraction 0)")
    return data.val
