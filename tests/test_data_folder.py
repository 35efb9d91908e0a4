"""Own image folders (tenas.data.folder): PNGs written from real CIFAR-10 test images (../shared)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import torch

from tenas.data import DatasetError, load_dataset, sample_batch, to_tensor
from tenas.data.folder import read_folder

CLASSES = ("airplane", "automobile", "bird")


def cifar_images(shared_dir: Path, per_class: int, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` CIFAR-10 test images of each of the first ``classes`` labels, class-major."""
    with np.load(shared_dir / "data" / "cifar" / "cifar10_test.npz") as z:
        x, y = z["x"], z["y"]
    rows = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(classes)])
    return x[rows], y[rows]


def write_folder(root: Path, x: np.ndarray, y: np.ndarray, names=CLASSES) -> Path:
    for i, (img, label) in enumerate(zip(x, y)):
        d = root / names[label]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"img{i:05d}.png")
    return root


@pytest.fixture
def folder(tmp_path, shared_dir):
    x, y = cifar_images(shared_dir, 6)
    return write_folder(tmp_path / "photos", x, y), x, y


def test_pixel_exact_labels_and_own_normalisation(folder, tmp_path):
    root, x, y = folder
    data = read_folder(root, val_fraction=0, cache=tmp_path / "cache")
    assert data.val is None and data.classes == CLASSES and data.train.num_classes == 3
    assert np.array_equal(data.train.x, x) and np.array_equal(data.train.y, y)  # class-major, file order
    pixels = x.reshape(-1, 3) / 255.0
    assert data.train.mean == pytest.approx(tuple(pixels.mean(0)), abs=1e-12)
    assert data.train.std == pytest.approx(tuple(pixels.std(0)), abs=1e-12)
    # the batches are normalised with the folder's own statistics
    t = to_tensor(x[:2], data.train).numpy()
    by_hand = (x[:2].transpose(0, 3, 1, 2) / 255.0 - np.array(data.train.mean)[:, None, None]) / np.array(data.train.std)[:, None, None]
    assert np.allclose(t, by_hand, atol=1e-5)
    xb, _ = sample_batch(data.train, 18, torch.Generator().manual_seed(0), augment=False)
    assert abs(float(xb.mean())) < 1e-5 and float(xb.std()) == pytest.approx(1.0, abs=1e-3)
    assert data.summary()["mean"] == list(data.train.mean)


def test_normalisation_from_a_dataset_and_load_dataset(folder, tmp_path, monkeypatch):
    root, x, _ = folder
    data = read_folder(root, val_fraction=0, normalization="cifar10", cache=False)
    from tenas.data import normalization

    assert (data.train.mean, data.train.std) == normalization("cifar10")
    monkeypatch.setenv("TENAS_CACHE", str(tmp_path / "c"))
    ds = load_dataset("folder", root, "train")  # default: val_fraction 0.1 -> 2 of 6 per class held out? 1 of 6
    assert len(ds) == 15 and len(load_dataset("folder", root, "val")) == 3
    with pytest.raises(ValueError, match="unknown normalization"):
        read_folder(root, normalization="svhn", cache=False)


def test_other_sizes_grayscale_and_alpha(tmp_path):
    root = tmp_path / "shapes"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.new("RGB", (50, 80), (200, 10, 30)).save(root / "a" / "tall.jpg", quality=100)
    Image.new("L", (17, 17), 77).save(root / "a" / "gray.png")
    Image.new("RGBA", (64, 40), (5, 250, 100, 128)).save(root / "b" / "alpha.png")
    Image.new("RGB", (300, 200), (0, 0, 255)).save(root / "b" / "wide.bmp")
    Image.new("RGB", (33, 33), (9, 9, 9)).save(root / "b" / "x.webp", lossless=True)
    data = read_folder(root, image_size=32, val_fraction=0, cache=False)
    assert data.train.x.shape == (5, 32, 32, 3) and data.train.y.tolist() == [0, 0, 1, 1, 1]
    # sorted file names: a/gray.png, a/tall.jpg, b/alpha.png, b/wide.bmp, b/x.webp
    expect = [(77, 77, 77), (200, 10, 30), (5, 250, 100), (0, 0, 255), (9, 9, 9)]
    for img, rgb in zip(data.train.x, expect):
        assert np.abs(img.astype(int) - np.array(rgb)).max() <= 2  # JPEG rounding only
    # a non-square image keeps its centre: red top quarter / green middle / blue bottom quarter, 40 x 80
    band = np.zeros((80, 40, 3), np.uint8)
    band[:20, :, 0] = 255
    band[20:60, :, 1] = 255
    band[60:, :, 2] = 255
    Image.fromarray(band).save(root / "b" / "zband.png")
    img = read_folder(root, image_size=16, val_fraction=0, cache=False).train.x[-1]
    assert img.shape == (16, 16, 3) and (img[2:-2, :, 1] == 255).all() and img[2:-2, :, [0, 2]].max() == 0


def test_stratified_split_is_seeded_and_per_class(tmp_path, shared_dir):
    x, y = cifar_images(shared_dir, 10, classes=2)
    x3, _ = cifar_images(shared_dir, 3, classes=3)
    root = write_folder(tmp_path / "p", np.concatenate([x, x3[6:]]), np.concatenate([y, [2, 2, 2]]))
    a = read_folder(root, val_fraction=0.2, cache=False)
    b = read_folder(root, val_fraction=0.2, cache=False)
    assert np.array_equal(a.val.x, b.val.x) and np.array_equal(a.train.y, b.train.y)
    assert np.bincount(a.val.y).tolist() == [2, 2, 1]  # round(0.2 * 10) and at least one of 3
    assert len(a.train) + len(a.val) == 23
    both = np.concatenate([a.train.x, a.val.x]).reshape(23, -1)
    assert len({r.tobytes() for r in both}) == 23  # a partition: nothing lost, nothing twice
    assert a.val.mean == a.train.mean  # the held-out images use the training statistics
    with pytest.raises(ValueError, match="val_fraction"):
        read_folder(root, val_fraction=1.0, cache=False)


def test_train_val_layout(tmp_path, shared_dir):
    x, y = cifar_images(shared_dir, 4)
    write_folder(tmp_path / "d" / "train", x[y != 2], y[y != 2])
    write_folder(tmp_path / "d" / "val", x[y == 0][:2], y[y == 0][:2])
    data = read_folder(tmp_path / "d", cache=False)
    assert data.classes == CLASSES[:2] and len(data.train) == 8 and data.val.y.tolist() == [0, 0]
    assert np.array_equal(data.val.x, x[y == 0][:2])
    write_folder(tmp_path / "d" / "val", x[y == 2][:1], np.array([0]), names=("ship",))
    with pytest.raises(DatasetError, match="ship.*no counterpart in train"):
        read_folder(tmp_path / "d", cache=False)


def test_corrupt_truncated_and_non_image_files_are_skipped_and_counted(folder, tmp_path):
    root, x, _ = folder
    (root / "bird" / "broken.png").write_bytes(b"\x89PNG not really")
    good = (root / "bird" / "img00012.png").read_bytes()
    (root / "bird" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "bird" / "notes.txt").write_text("not an image")
    (root / "bird" / ".DS_Store").write_bytes(b"\0")
    data = read_folder(root, val_fraction=0, cache=False)
    assert len(data.train) == 18 and data.ignored == 2
    assert len(data.skipped) == 2 and {Path(s.split(":")[0]).name for s in data.skipped} == {"broken.png", "cut.png"}
    assert np.array_equal(data.train.x, x)
    assert data.summary()["skipped"] == 2


@pytest.mark.parametrize("make, match", [
    (lambda r: (r / "a").mkdir(parents=True) or (r / "b").mkdir(), "no readable image in this class folder"),
    (lambda r: (r / "only").mkdir(parents=True) or Image.new("RGB", (8, 8)).save(r / "only" / "i.png"), "only one class"),
    (lambda r: r.mkdir() or (r / "loose.png").write_bytes(b""), "no class sub-folders"),
    (lambda r: None, "no such folder"),
    (lambda r: r.write_text("x"), "a file, not a folder"),
])
def test_bad_folders_name_the_path(tmp_path, make, match):
    root = tmp_path / "user"
    make(root)
    with pytest.raises(DatasetError, match=match) as exc:
        read_folder(root, cache=False)
    assert str(tmp_path) in str(exc.value) and "sub-folder per class" in str(exc.value)


def test_a_class_whose_images_are_all_corrupt_is_an_error(folder):
    root, _, _ = folder
    for f in (root / "bird").iterdir():
        f.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"bird.*no readable image.*could not be decoded"):
        read_folder(root, cache=False)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_skipped(folder):
    root, _, _ = folder
    f = root / "bird" / "img00012.png"
    f.chmod(0)
    try:
        data = read_folder(root, val_fraction=0, cache=False)
    finally:
        f.chmod(0o644)
    assert len(data.skipped) == 1 and "img00012.png" in data.skipped[0]


def test_cache_is_reused_outside_the_folder_and_invalidated_by_a_change(folder, tmp_path):
    root, x, _ = folder
    listing = sorted(p.relative_to(root) for p in root.rglob("*"))
    cache = tmp_path / "cache"
    first = read_folder(root, val_fraction=0, cache=cache)
    second = read_folder(root, val_fraction=0, cache=cache)
    assert not first.cached and second.cached and np.array_equal(second.train.x, first.train.x)
    assert len(list((cache / "folders").glob("*.npz"))) == 1
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == listing  # nothing written into the user's folder
    f = root / "bird" / "img00012.png"
    Image.fromarray(255 - x[12]).save(f)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    third = read_folder(root, val_fraction=0, cache=cache)
    assert not third.cached and np.array_equal(third.train.x[12], 255 - x[12])
    (cache / "folders").joinpath(next((cache / "folders").glob("*.npz")).name).write_bytes(b"junk")
    assert np.array_equal(read_folder(root, val_fraction=0, cache=cache).train.x, third.train.x)  # junk: rebuilt
