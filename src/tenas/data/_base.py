"""Shared pieces of :mod:`tenas.data`: the in-memory image set, the one error type, per-dataset facts,
a restricted unpickler for the official pickle files and the ``.npz`` reader."""

from __future__ import annotations

import functools
import importlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120", "imagenet", "folder")


class DatasetError(ValueError):
    """A dataset path that is missing, has the wrong layout, or holds a truncated or corrupt file."""


@dataclass(frozen=True)
class _Info:
    num_classes: int
    image_size: int | None  # native side length; None: any (image folders are resized)
    padding: int  # zero padding of the random crop used in training / search batches
    mean: tuple[float, ...]  # in 0..1
    std: tuple[float, ...]
    layout: str  # what a path for this dataset must look like, for error messages


def _per255(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(v / 255.0 for v in values)


_INFO: dict[str, _Info] = {
    "cifar10": _Info(
        10, 32, 4, _per255((125.3, 123.0, 113.9)), _per255((63.0, 62.1, 66.7)),
        "the official folder 'cifar-10-batches-py' (or its parent) holding the pickled files "
        "data_batch_1..data_batch_5 and test_batch, or an .npz file with 'x' (uint8 N x 32 x 32 x 3) "
        "and 'y' (labels 0..9)",
    ),
    "cifar100": _Info(
        100, 32, 4, _per255((129.3, 124.1, 112.4)), _per255((68.2, 65.4, 70.4)),
        "the official folder 'cifar-100-python' (or its parent) holding the pickled files train and "
        "test, or an .npz file with 'x' (uint8 N x 32 x 32 x 3) and 'y' (fine labels 0..99)",
    ),
    "ImageNet16-120": _Info(
        120, 16, 2, _per255((122.68, 116.66, 104.01)), _per255((63.22, 61.26, 65.09)),
        "the official downsampled folder 'ImageNet16' (or its parent) holding the pickled files "
        "train_data_batch_1..train_data_batch_10 and val_data (dicts with 'data' uint8 N x 768 and "
        "'labels' 1..1000), or an .npz file with 'x' (uint8 N x 16 x 16 x 3) and 'y' (labels 0..119)",
    ),
    "imagenet": _Info(
        1000, None, 0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
        "an image-folder root with train/<class>/*.JPEG and val/<class>/*.JPEG (one sub-folder per "
        "class, the same class names in both)",
    ),
    # your own images: class count, size and normalisation come from the folder (tenas.data.folder)
    "folder": _Info(
        0, None, 4, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
        "a folder with one sub-folder per class (at least two; sorted names are the labels) holding "
        ".png / .jpg / .jpeg / .bmp / .webp images of any size, RGB or grayscale, or the same layout "
        "under DIR/train (and optionally DIR/val)",
    ),
}


def _info(name: str) -> _Info:
    try:
        return _INFO[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}") from None


class ImageArray(Protocol):
    """What :class:`ImageSet` needs of its images: ``x[indices]`` gives uint8 N x H x W x 3."""

    shape: tuple[int, ...]

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)  # eq on arrays is ambiguous: compare fields yourself
class ImageSet:
    """Images with labels: ``x`` uint8 N x H x W x 3 (RGB), ``y`` int64 N, and where they came from."""

    x: np.ndarray | ImageArray
    y: np.ndarray
    name: str
    num_classes: int
    source: str
    # per-channel normalisation in 0..1 when the images carry their own (own folders); None: the dataset's
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    classes: tuple[str, ...] | None = None  # class names by label, when the data has them

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _fail(name: str, path: Path | str, problem: str) -> DatasetError:
    return DatasetError(f"cannot read {name} from {str(path)!r}: {problem}; expected {_info(name).layout}")


# --------------------------------------------------------------------------------------------------
# restricted unpickling
# --------------------------------------------------------------------------------------------------
def _numpy_core(sub: str) -> Any:
    try:
        return importlib.import_module(f"numpy._core.{sub}")  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        return importlib.import_module(f"numpy.core.{sub}")


@functools.lru_cache(maxsize=1)
def _allowed() -> dict[tuple[str, str], Any]:
    multiarray, numeric = _numpy_core("multiarray"), _numpy_core("numeric")
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): __import__("_codecs").encode,  # bytes pickled by Python 3, protocol < 3
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "bytearray"): bytearray,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


class _SafeUnpickler(pickle.Unpickler):
    """Loads dicts / lists / numbers / strings / numpy arrays only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        try:
            return _allowed()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not plain data)") from None


def _load_pickle(path: Path, name: str) -> dict[str, Any]:
    """Unpickle one official data file into a dict with str keys; every failure is a DatasetError."""
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except OSError as exc:
        raise _fail(name, path, f"cannot open the file ({exc.strerror or exc})") from None
    except Exception as exc:  # pickle raises many types on truncated or corrupt input
        raise _fail(name, path, f"not a readable pickle, truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise _fail(name, path, f"the pickle holds a {type(obj).__name__}, not a dict")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _rows(entry: dict[str, Any], key: str, width: int, name: str, path: Path) -> np.ndarray:
    """``entry[key]`` as uint8 N x width, checked."""
    if key not in entry:
        raise _fail(name, path, f"the dict has no {key!r} entry (keys: {', '.join(sorted(entry)) or 'none'})")
    data = entry[key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != width:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise _fail(name, path, f"{key!r} is a {desc}, expected a uint8 array N x {width}")
    return data


def _labels(entry: dict[str, Any], key: str, n: int, name: str, path: Path) -> np.ndarray:
    """``entry[key]`` as int64 N, checked for length and integrality."""
    if key not in entry:
        raise _fail(name, path, f"the dict has no {key!r} entry (keys: {', '.join(sorted(entry)) or 'none'})")
    try:
        y = np.asarray(entry[key])
    except Exception:  # pragma: no cover - ragged nonsense
        y = np.asarray([])
    if y.ndim != 1 or y.shape[0] != n or not np.issubdtype(y.dtype, np.integer):
        raise _fail(name, path, f"{key!r} must be {n} integer labels, got shape {y.shape} of {y.dtype}")
    return y.astype(np.int64)


def _chw_rows_to_hwc(data: np.ndarray, side: int) -> np.ndarray:
    """Official row layout (all R, then all G, then all B; each row-major) -> N x side x side x 3."""
    return np.ascontiguousarray(data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------------------------------
# .npz
# --------------------------------------------------------------------------------------------------
def _read_npz(path: Path, name: str, source: str | None = None) -> ImageSet:
    """An ``.npz`` with ``x`` uint8 N x S x S x 3 (S the dataset's side) and ``y`` labels 0..C-1."""
    info = _info(name)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in ("x", "y") if k not in archive.files]
            if missing:
                raise _fail(name, path, f"the archive has no {' or '.join(repr(k) for k in missing)} "
                                        f"(it holds: {', '.join(archive.files) or 'nothing'})")
            x, y = archive["x"], archive["y"]
    except DatasetError:
        raise
    except OSError as exc:
        raise _fail(name, path, f"cannot open the file ({exc.strerror or exc})") from None
    except Exception as exc:  # zipfile, zlib, numpy and pickle errors on truncated or foreign files
        raise _fail(name, path, f"not a readable .npz archive, truncated or corrupt ({type(exc).__name__}: {exc})") from None
    side = info.image_size
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3 or (side and x.shape[1:3] != (side, side)):
        raise _fail(name, path, f"'x' is a {x.dtype} array of shape {x.shape}, expected uint8 N x {side} x {side} x 3")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise _fail(name, path, f"'y' has shape {y.shape} of {y.dtype}, expected {x.shape[0]} integer labels")
    y = y.astype(np.int64)
    _check_range(y, name, path)
    return ImageSet(x, y, name, info.num_classes, source or str(path))


def _check_range(y: np.ndarray, name: str, path: Path) -> None:
    c = _info(name).num_classes
    if y.size and (y.min() < 0 or y.max() >= c):
        raise _fail(name, path, f"labels range over {y.min()}..{y.max()}, expected 0..{c - 1}")
