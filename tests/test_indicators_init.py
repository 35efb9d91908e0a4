"""Re-initialisation, the repeat wrapper, region crops, the allocator tuning, the lazy public names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tenas.indicators.crops import random_crops
from tenas.indicators.init import kaiming_init_, repeat_indicator, repeat_seed

torch.set_num_threads(1)


def net():
    return nn.Sequential(nn.Conv2d(16, 64, 3, bias=True), nn.BatchNorm2d(64), nn.ReLU(), nn.Flatten(),
                         nn.Linear(64, 200), nn.BatchNorm1d(200, affine=False))


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_init_statistics_and_constants(mode):
    model = net()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(3.0)
                m.bias.fill_(2.0)
    assert kaiming_init_(model, mode=mode, generator=gen(0)) is model
    conv, bn, lin = model[0], model[1], model[4]
    fan = {"fan_in": 16 * 9, "fan_out": 64 * 9}[mode]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan), rel=0.05)
    fan = {"fan_in": 64, "fan_out": 200}[mode]
    assert lin.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan), rel=0.05)
    assert torch.all(conv.bias == 0) and torch.all(lin.bias == 0)
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_kaiming_init_is_deterministic_from_the_generator():
    a, b = net(), net()
    kaiming_init_(a, generator=gen(5))
    kaiming_init_(b, generator=gen(5))
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), k
    kaiming_init_(b, generator=gen(6))
    assert not torch.equal(a[0].weight, b[0].weight)
    # the dtype of the model does not change the draw
    c = net().double()
    kaiming_init_(c, generator=gen(5))
    assert torch.equal(c[0].weight.float(), a[0].weight)
    with pytest.raises(ValueError, match="fan_in"):
        kaiming_init_(a, mode="fan_avg")


def test_repeat_indicator_reinitialises_each_repeat():
    seen = []

    def fn(model, inputs):
        seen.append(model[0].weight.detach().clone())
        return float(model[0].weight.detach().sum() + inputs)

    model = net()
    mean, values = repeat_indicator(fn, model, 1.0, repeats=3, seed=7, mode="fan_in")
    assert len(values) == 3 and mean == pytest.approx(np.mean(values))
    assert len({float(v) for v in values}) == 3
    again = repeat_indicator(fn, net(), 1.0, repeats=3, seed=7, mode="fan_in")
    assert again == (mean, values)
    ref = net()
    kaiming_init_(ref, mode="fan_in", generator=gen(repeat_seed(7, 1)))
    assert torch.equal(seen[1], ref[0].weight)
    with pytest.raises(ValueError, match="repeats"):
        repeat_indicator(fn, model, 1.0, repeats=0)


def test_repeat_indicator_with_the_real_indicators():
    from tenas.indicators import count_linear_regions, ntk_condition_number

    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(36, 3))
    x = torch.randn(6, 3, 5, 5, generator=gen(0))
    mean, values = repeat_indicator(ntk_condition_number, model, x, repeats=2, seed=0, mode="fan_out")
    assert all(math.isfinite(v) and v >= 1 for v in values) and mean == pytest.approx(np.mean(values))
    mean_r, values_r = repeat_indicator(count_linear_regions, model, x, repeats=2, seed=0, mode="fan_in")
    assert all(1 <= v <= 6 for v in values_r)


# --------------------------------------------------------------------------------------------------
# crops
# --------------------------------------------------------------------------------------------------
def test_random_crops_are_crops_of_one_channel():
    images = torch.randn(7, 3, 10, 12, generator=gen(0))
    crops = random_crops(images, n=200, size=3, generator=gen(1))
    assert crops.shape == (200, 1, 3, 3) and crops.dtype == images.dtype
    # recompute the draws in the documented order
    g = gen(1)
    img, ch = torch.randint(7, (200,), generator=g), torch.randint(3, (200,), generator=g)
    top, left = torch.randint(8, (200,), generator=g), torch.randint(10, (200,), generator=g)
    for k in range(200):
        i, c, t, l = int(img[k]), int(ch[k]), int(top[k]), int(left[k])
        assert torch.equal(crops[k, 0], images[i, c, t:t + 3, l:l + 3])
    assert len(set(ch.tolist())) == 3 and len(set(img.tolist())) == 7  # all channels and images get used
    assert torch.equal(random_crops(images, n=200, size=3, generator=gen(1)), crops)
    assert not torch.equal(random_crops(images, n=200, size=3, generator=gen(2)), crops)


def test_random_crops_bad_inputs():
    with pytest.raises(ValueError, match="N x C x H x W"):
        random_crops(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match="float"):
        random_crops(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="does not fit"):
        random_crops(torch.randn(2, 3, 2, 8))
    with pytest.raises(ValueError, match="at least 1"):
        random_crops(torch.randn(2, 3, 8, 8), n=0)


def test_crops_feed_the_thin_supernet():
    from tenas.indicators import count_linear_regions
    from tenas.spaces.nb201 import thin_supernet

    images = torch.randn(20, 3, 32, 32, generator=gen(3))
    crops = random_crops(images, n=300, generator=gen(4))
    torch.manual_seed(0)
    assert 1 < count_linear_regions(thin_supernet(), crops, batch_size=100) <= 300


# --------------------------------------------------------------------------------------------------
# allocator, public names
# --------------------------------------------------------------------------------------------------
def test_tune_allocator_is_idempotent(monkeypatch):
    from tenas import _alloc

    first = _alloc.tune_allocator()
    assert _alloc.tune_allocator() is first and _alloc.allocator_tuned() is first
    monkeypatch.setattr(_alloc, "_state", {"done": False, "tuned": None})
    monkeypatch.setenv("TENAS_TUNE_ALLOCATOR", "0")
    assert _alloc.tune_allocator() is False


def test_public_names():
    import tenas.indicators as ind

    for name in ind.__all__:
        assert callable(getattr(ind, name)), name
    with pytest.raises(AttributeError):
        ind.no_such_thing  # noqa: B018
