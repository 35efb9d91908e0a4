"""tenas.data loaders: official formats written into tmp_path and read back, the shared npz, the
embedded sample, and every bad-input case (one DatasetError naming the path and the layout expected)."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tenas.data import DATASETS, DatasetError, ImageSet, load_dataset, sample_batch


# --------------------------------------------------------------------------------------------------
# writers for the official formats
# --------------------------------------------------------------------------------------------------
class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes what Python 2's cPickle wrote for the official files: byte strings as BINSTRING, numpy
    globals under ``numpy.core.multiarray``, protocol 2."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj if n < 256 else pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    def save_str(self, obj: str) -> None:  # py2 str: a byte string
        self.save_bytes(obj.encode("latin1"))

    def save_global(self, obj, name=None) -> None:
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + (name or obj.__qualname__).encode() + b"\n")
        self.memoize(obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def _py2_pickle(obj, file: Path) -> None:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    file.write_bytes(buf.getvalue())


def _rows(x_hwc: np.ndarray) -> np.ndarray:
    """NHWC -> official rows, written out element by element (not by the reshape the loader uses)."""
    n, s = x_hwc.shape[0], x_hwc.shape[1]
    rows = np.empty((n, 3 * s * s), dtype=np.uint8)
    for c in range(3):
        for r in range(s):
            for col in range(s):
                rows[:, c * s * s + r * s + col] = x_hwc[:, r, col, c]
    return rows


def _images(rng: np.random.Generator, n: int, side: int = 32) -> np.ndarray:
    return rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def _write_cifar10(root: Path, rng: np.random.Generator, per_batch: int = 3) -> tuple[np.ndarray, np.ndarray, Path]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    xs, ys = [], []
    for i, fname in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, y = _images(rng, per_batch), [int(v) for v in rng.integers(0, 10, per_batch)]
        _py2_pickle({"batch_label": f"batch {i}", "labels": y, "data": _rows(x), "filenames": ["a.png"] * per_batch}, folder / fname)
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), folder


def _message_ok(exc: pytest.ExceptionInfo, path: Path, layout_word: str) -> None:
    msg = str(exc.value)
    assert str(path) in msg, msg
    assert "expected" in msg and layout_word in msg, msg


# --------------------------------------------------------------------------------------------------
# CIFAR official folders
# --------------------------------------------------------------------------------------------------
def test_cifar10_official_python2_folder_round_trip(tmp_path):
    x, y, folder = _write_cifar10(tmp_path, np.random.default_rng(0))
    train = load_dataset("cifar10", folder, "train")
    assert train.x.dtype == np.uint8 and train.x.shape == (15, 32, 32, 3) and train.y.dtype == np.int64
    np.testing.assert_array_equal(train.x, x[:15])  # data_batch_1..5 in order, CHW rows -> HWC
    np.testing.assert_array_equal(train.y, y[:15])
    assert (train.name, train.num_classes, train.source) == ("cifar10", 10, str(folder))
    test = load_dataset("cifar10", tmp_path, "test")  # the parent folder works too
    np.testing.assert_array_equal(test.x, x[15:])
    np.testing.assert_array_equal(test.y, y[15:])
    assert load_dataset("cifar10", tmp_path, "val").y.tolist() == test.y.tolist()


def test_official_pickle_really_uses_python2_opcodes(tmp_path):
    import pickletools

    _py2_pickle({"data": np.zeros((1, 3), np.uint8)}, tmp_path / "f")
    ops = {(op.name, arg) for op, arg, _ in pickletools.genops(tmp_path.joinpath("f").read_bytes())}
    assert ("GLOBAL", "numpy.core.multiarray _reconstruct") in ops and ("SHORT_BINSTRING", "data") in ops


def test_cifar100_python3_pickles_with_str_keys(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    written = {}
    for split, n in (("train", 6), ("test", 4)):
        x, fine = _images(rng, n), rng.integers(0, 100, n).tolist()
        with open(folder / split, "wb") as f:
            pickle.dump({"data": _rows(x), "fine_labels": fine, "coarse_labels": [0] * n}, f, protocol=4)
        written[split] = (x, fine)
    for split in ("train", "test"):
        ds = load_dataset("cifar100", tmp_path, split)
        np.testing.assert_array_equal(ds.x, written[split][0])
        assert ds.y.tolist() == written[split][1] and ds.num_classes == 100


def test_npz_written_here_round_trips(tmp_path):
    x, y = _images(np.random.default_rng(2), 5), np.array([0, 3, 9, 1, 1], dtype=np.int32)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    ds = load_dataset("cifar10", tmp_path / "a.npz")
    np.testing.assert_array_equal(ds.x, x)
    assert ds.y.dtype == np.int64 and ds.y.tolist() == y.tolist()


@pytest.mark.parametrize(
    "name, file, mean",
    [("cifar10", "cifar10_train_10k.npz", (0.4914, 0.4822, 0.4465)), ("cifar100", "cifar100_train_10k.npz", (0.5071, 0.4865, 0.4409))],
)
def test_shared_npz_has_published_channel_means(shared_dir, name, file, mean):
    ds = load_dataset(name, shared_dir / "data" / "cifar" / file)
    assert ds.x.shape == (10000, 32, 32, 3) and ds.num_classes == (10 if name == "cifar10" else 100)
    got = ds.x.reshape(-1, 3).mean(0) / 255  # 10k of the 50k training images: within 0.005
    np.testing.assert_allclose(got, mean, atol=0.005)
    assert np.bincount(ds.y).min() > 0


def test_embedded_sample_is_first_200_per_class_of_data_batch_1(shared_dir):
    ds = load_dataset("cifar10")
    assert ds.source == "embedded CIFAR-10 sample (2,000 images)"
    assert ds.x.shape == (2000, 32, 32, 3) and np.bincount(ds.y).tolist() == [200] * 10
    with np.load(shared_dir / "data" / "cifar" / "cifar10_train_10k.npz") as ref:
        rx, ry = ref["x"], ref["y"]
    keep = np.sort(np.concatenate([np.flatnonzero(ry == c)[:200] for c in range(10)]))
    np.testing.assert_array_equal(ds.x, rx[keep])
    np.testing.assert_array_equal(ds.y, ry[keep])


def test_embedded_sample_has_train_split_only():
    with pytest.raises(DatasetError, match="--data PATH"):
        load_dataset("cifar10", None, "test")


# --------------------------------------------------------------------------------------------------
# ImageNet16-120 and image folders
# --------------------------------------------------------------------------------------------------
def test_imagenet16_keeps_labels_1_to_120_as_0_to_119(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "ImageNet16"
    folder.mkdir()
    expect_x, expect_y = [], []
    for fname in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        x = _images(rng, 4, 16)
        labels = [1, 120, 121, int(rng.integers(1, 1001))]
        _py2_pickle({"data": _rows(x), "labels": labels, "mean": np.zeros(768)}, folder / fname)
        keep = [i for i, lab in enumerate(labels) if lab <= 120]
        expect_x.append(x[keep])
        expect_y.append([labels[i] - 1 for i in keep])
    train = load_dataset("ImageNet16-120", tmp_path, "train")  # parent of ImageNet16/
    np.testing.assert_array_equal(train.x, np.concatenate(expect_x[:10]))
    assert train.y.tolist() == sum(expect_y[:10], []) and train.num_classes == 120
    val = load_dataset("ImageNet16-120", folder, "val")
    np.testing.assert_array_equal(val.x, expect_x[10])
    assert val.y.tolist() == expect_y[10] == [0, 119] + expect_y[10][2:]


def _imagenet_root(tmp_path: Path) -> Path:
    root = tmp_path / "imagenet"
    red_blue = np.zeros((8, 16, 3), np.uint8)  # 8 high, 16 wide: left half red, right half blue
    red_blue[:, :8, 0] = 255
    red_blue[:, 8:, 2] = 255
    for split in ("train", "val"):
        for cls in ("n02", "n01"):
            (root / split / cls).mkdir(parents=True)
        Image.fromarray(red_blue).save(root / split / "n02" / "wide.png")
        Image.fromarray(np.full((16, 16, 3), (10, 200, 30), np.uint8)).save(root / split / "n01" / "a.JPEG", quality=95)
        Image.fromarray(np.full((16, 16), 77, np.uint8)).save(root / split / "n01" / "b_gray.png")
        (root / split / "n01" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_sorted_classes_resize_centre_crop(tmp_path):
    root = _imagenet_root(tmp_path)
    ds = load_dataset("imagenet", root, "train", image_size=8)
    assert ds.num_classes == 2 and ds.y.tolist() == [0, 0, 1] and ds.x.shape == (3, 8, 8, 3)
    x = ds.x[np.arange(3)]
    assert np.abs(x[0].astype(int) - (10, 200, 30)).max() <= 3  # JPEG, downscaled 16 -> 8
    assert (x[1] == 77).all()  # grayscale -> RGB
    assert (x[2, :, :4] == (255, 0, 0)).all() and (x[2, :, 4:] == (0, 0, 255)).all()  # centre 8 of 16 columns
    val = load_dataset("imagenet", root, "val", image_size=8)
    assert val.source == str(root / "val") and val.y.tolist() == [0, 0, 1]


def test_image_folder_corrupt_image_named_when_read(tmp_path):
    root = _imagenet_root(tmp_path)
    bad = root / "train" / "n01" / "a.JPEG"
    bad.write_bytes(bad.read_bytes()[:40])
    ds = load_dataset("imagenet", root, image_size=8)
    with pytest.raises(DatasetError) as exc:
        ds.x[np.arange(3)]
    _message_ok(exc, bad, "train/<class>")


# --------------------------------------------------------------------------------------------------
# bad input: one DatasetError naming the path and the expected layout
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, word", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"),
                                        ("ImageNet16-120", "train_data_batch_1"), ("imagenet", "train/<class>")])
def test_missing_path_and_unrelated_folder(tmp_path, name, word):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError) as exc:
        load_dataset(name, missing)
    _message_ok(exc, missing, word)
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetError) as exc:
        load_dataset(name, tmp_path)
    _message_ok(exc, tmp_path, word)


def test_truncated_official_pickle(tmp_path):
    _, _, folder = _write_cifar10(tmp_path, np.random.default_rng(4))
    bad = folder / "data_batch_3"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(DatasetError) as exc:
        load_dataset("cifar10", folder)
    _message_ok(exc, bad, "data_batch_1..data_batch_5")
    assert "truncated or corrupt" in str(exc.value)


def test_missing_batch_file(tmp_path):
    _, _, folder = _write_cifar10(tmp_path, np.random.default_rng(5))
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetError) as exc:
        load_dataset("cifar10", folder)
    _message_ok(exc, folder / "data_batch_4", "test_batch")
    assert len(load_dataset("cifar10", folder, "test")) == 3  # the test split is still readable


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/nonexistent-dir-tenas/pwned"),))


@pytest.mark.parametrize(
    "content, problem",
    [
        ({"data": _Evil(), "labels": [0]}, "refusing to load"),
        ([1, 2, 3], "not a dict"),
        ({"labels": [0]}, "no 'data'"),
        ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, "N x 3072"),
        ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, "uint8"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "2 integer labels"),
        ({"data": np.zeros((2, 3072), np.uint8), "fine_labels": [0, 1]}, "no 'labels'"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, "expected 0..9"),
    ],
)
def test_wrong_pickle_contents(tmp_path, content, problem):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(content, f, protocol=4)
    with pytest.raises(DatasetError) as exc:
        load_dataset("cifar10", tmp_path, "test")
    _message_ok(exc, folder / "test_batch", "cifar-10-batches-py")
    assert problem in str(exc.value)


def test_truncated_npz(tmp_path, shared_dir):
    good = tmp_path / "good.npz"
    np.savez_compressed(good, x=_images(np.random.default_rng(6), 50), y=np.zeros(50, np.int64))
    for cut in (100, len(good.read_bytes()) // 2, len(good.read_bytes()) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(good.read_bytes()[:cut])
        with pytest.raises(DatasetError) as exc:
            load_dataset("cifar10", bad)
        _message_ok(exc, bad, "'x' (uint8 N x 32 x 32 x 3)")
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("x,y\n1,2\n")
    with pytest.raises(DatasetError) as exc:
        load_dataset("cifar100", not_npz)
    _message_ok(exc, not_npz, "fine labels 0..99")


@pytest.mark.parametrize(
    "name, arrays, problem",
    [
        ("cifar10", {"images": np.zeros((2, 32, 32, 3), np.uint8), "labels": np.zeros(2)}, "no 'x' or 'y'"),
        ("cifar10", {"x": np.zeros((2, 28, 28, 3), np.uint8), "y": np.zeros(2, int)}, "N x 32 x 32 x 3"),
        ("cifar10", {"x": np.zeros((2, 3, 32, 32), np.uint8), "y": np.zeros(2, int)}, "N x 32 x 32 x 3"),
        ("cifar10", {"x": np.zeros((2, 32, 32, 3), np.float32), "y": np.zeros(2, int)}, "uint8"),
        ("cifar10", {"x": np.zeros((2, 32, 32, 3), np.uint8), "y": np.zeros(3, int)}, "2 integer labels"),
        ("cifar10", {"x": np.zeros((2, 32, 32, 3), np.uint8), "y": np.array([0.0, 1.0])}, "integer labels"),
        ("cifar10", {"x": np.zeros((2, 32, 32, 3), np.uint8), "y": np.array([0, 10])}, "expected 0..9"),
        ("ImageNet16-120", {"x": np.zeros((2, 32, 32, 3), np.uint8), "y": np.zeros(2, int)}, "N x 16 x 16 x 3"),
        ("ImageNet16-120", {"x": np.zeros((2, 16, 16, 3), np.uint8), "y": np.array([0, 120])}, "expected 0..119"),
    ],
)
def test_npz_wrong_keys_or_shapes(tmp_path, name, arrays, problem):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(DatasetError) as exc:
        load_dataset(name, bad)
    _message_ok(exc, bad, ".npz file with 'x'")
    assert problem in str(exc.value)


def test_imagenet16_labels_outside_1_to_1000(tmp_path):
    _py2_pickle({"data": np.zeros((2, 768), np.uint8), "labels": [0, 5]}, tmp_path / "val_data")
    with pytest.raises(DatasetError) as exc:
        load_dataset("ImageNet16-120", tmp_path, "test")
    _message_ok(exc, tmp_path / "val_data", "val_data")
    assert "expected 1..1000" in str(exc.value)


def test_image_folder_without_images_or_with_unknown_val_class(tmp_path):
    root = tmp_path / "in"
    (root / "train" / "n01").mkdir(parents=True)
    (root / "train" / "n01" / "x.txt").write_text("no")
    with pytest.raises(DatasetError) as exc:
        load_dataset("imagenet", root)
    _message_ok(exc, root / "train", "val/<class>")
    (root / "val" / "n99").mkdir(parents=True)
    with pytest.raises(DatasetError) as exc:
        load_dataset("imagenet", root, "val")
    _message_ok(exc, root / "val" / "n99", "train/<class>")


def test_names_splits_sizes_and_missing_path_for_non_cifar10():
    with pytest.raises(ValueError, match="cifar10, cifar100, ImageNet16-120, imagenet") as exc:
        load_dataset("mnist", "/tmp")
    assert not isinstance(exc.value, DatasetError)
    with pytest.raises(ValueError, match="train, test, val"):
        load_dataset("cifar10", None, "validation")
    with pytest.raises(ValueError, match="imagenet and folder only"):
        load_dataset("cifar10", None, image_size=64)
    for name in DATASETS[1:]:
        with pytest.raises(DatasetError, match="pass --data PATH"):
            load_dataset(name)


def test_batch_larger_than_dataset():
    ds = ImageSet(np.zeros((5, 32, 32, 3), np.uint8), np.zeros(5, np.int64), "cifar10", 10, "tiny")
    import torch

    with pytest.raises(DatasetError, match="batch of 6 .* holds 5 images"):
        sample_batch(ds, 6, torch.Generator().manual_seed(0))
