"""tenas.data transforms and batches: hand-computed normalisation, crop/flip/cutout geometry, and all
randomness coming from the explicit generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tenas.data import ImageSet, augment, black, iterate_batches, normalization, sample_batch, to_tensor


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ramp(n: int = 64, c: int = 3, h: int = 8, w: int = 8) -> torch.Tensor:
    """Every pixel distinct and nonzero, so a crop's offset and a flip can be read off exactly."""
    return torch.arange(1, n * c * h * w + 1, dtype=torch.float32).view(n, c, h, w)


def test_normalization_constants():
    mean, std = normalization("cifar10")
    assert mean == pytest.approx((125.3 / 255, 123.0 / 255, 113.9 / 255)) and std == pytest.approx((63.0 / 255, 62.1 / 255, 66.7 / 255))
    assert normalization("cifar100")[0][0] == pytest.approx(129.3 / 255)
    assert normalization("ImageNet16-120")[1][2] == pytest.approx(65.09 / 255)
    assert normalization("imagenet") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with pytest.raises(ValueError, match="valid names"):
        normalization("svhn")


def test_to_tensor_matches_hand_computation():
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    t = to_tensor(x, "ImageNet16-120")
    assert t.dtype == torch.float32 and t.shape == (2, 3, 4, 5)
    n, r, col, c = 1, 3, 2, 1
    assert t[n, c, r, col].item() == pytest.approx((x[n, r, col, c] / 255 - 116.66 / 255) / (61.26 / 255), abs=1e-5)
    assert torch.equal(to_tensor(torch.from_numpy(x), "ImageNet16-120"), t)
    with pytest.raises(ValueError, match="uint8 images N x H x W x 3"):
        to_tensor(x.transpose(0, 3, 1, 2), "cifar10")


def test_random_crop_is_a_window_of_the_zero_padded_image():
    x, p = _ramp(), 2
    out = augment(x, _gen(), padding=p, flip=False)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offsets = []
    for i in range(x.shape[0]):
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1) if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 8])]
        assert len(hits) == 1
        offsets.append(hits[0])
    assert len(set(offsets)) > 10  # offsets differ per image (25 possible)


def test_flip_is_an_exact_mirror_or_identity():
    x = _ramp()
    out = augment(x, _gen(1), padding=0, flip=True)
    mirrored = [torch.equal(out[i], x[i].flip(-1)) for i in range(64)]
    same = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(m != s for m, s in zip(mirrored, same))
    assert 10 < sum(mirrored) < 54
    assert torch.equal(augment(x, _gen(1), padding=0, flip=False), x)


def test_cutout_zeroes_one_clipped_square():
    x = torch.ones(64, 3, 8, 8)
    out = augment(x, _gen(2), padding=0, flip=False, cutout=4)
    areas = set()
    for i in range(64):
        hole = out[i, 0] == 0
        assert torch.equal(hole.expand(3, 8, 8), out[i] == 0)  # same hole in every channel
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert hole.sum() == len(rows) * len(cols) and 2 <= len(rows) <= 4 and 2 <= len(cols) <= 4  # a rectangle
        areas.add(int(hole.sum()))
    assert 16 in areas and len(areas) > 1  # full squares inside, clipped ones at the border


def test_same_seed_same_output_and_global_rng_unused():
    x = _ramp()
    a = augment(x, _gen(7), padding=4, cutout=3)
    torch.manual_seed(123)
    b = augment(x, _gen(7), padding=4, cutout=3)
    assert torch.equal(a, b)
    assert not torch.equal(a, augment(x, _gen(8), padding=4, cutout=3))
    assert torch.equal(x, _ramp())  # input untouched


def _dataset(n: int = 100, value: int | None = None) -> ImageSet:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8) if value is None else np.full((n, 8, 8, 3), value, np.uint8)
    return ImageSet(x, np.arange(n, dtype=np.int64), "cifar100", 100, "test")


def test_sample_batch_without_replacement_and_unaugmented_pixels():
    ds = _dataset()
    x, y = sample_batch(ds, 100, _gen(3), augment=False)
    assert sorted(y.tolist()) == list(range(100)) and y.tolist() != list(range(100))
    assert torch.equal(x, to_tensor(ds.x[y.numpy()], "cifar100"))
    x1, y1 = sample_batch(ds, 10, _gen(3))
    x2, y2 = sample_batch(ds, 10, _gen(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (10, 3, 8, 8) and y1.dtype == torch.int64


def test_sample_batch_pads_with_black_not_with_the_mean():
    ds = _dataset(64, value=255)
    x, _ = sample_batch(ds, 64, _gen(4))
    white = torch.tensor([(1 - m) / s for m, s in zip(*normalization("cifar100"))]).view(1, 3, 1, 1)
    dark = torch.tensor(black("cifar100")).view(1, 3, 1, 1)
    is_white, is_dark = torch.isclose(x, white).all(1), torch.isclose(x, dark).all(1)
    assert (is_white | is_dark).all() and is_dark.any() and is_white.any()


def test_iterate_batches_covers_the_epoch_once():
    ds = _dataset(10)
    batches = list(iterate_batches(ds, 4, _gen(5), cutout=2))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == list(range(10))
    plain = list(iterate_batches(ds, 4, _gen(5), shuffle=False, augment=False, drop_last=True))
    assert [b[1].tolist() for b in plain] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert torch.equal(plain[0][0], to_tensor(ds.x[:4], "cifar100"))
