"""The named scoring protocols (``--protocol published|fast``): which network and which inputs each proxy gets."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tenas.cli import main
from tenas.correlate.presets import FAST, PUBLISHED, get_protocol
from tenas.correlate.protocol import Protocol, Setting, load_inputs, net_spec


def test_fast_is_the_old_default_and_published_the_papers_settings():
    assert dataclasses.replace(FAST, name="custom") == Protocol()
    # Abdelfattah et al.'s NB201 setting for the saliency proxies; TE-NAS' own NTK network and batch
    assert net_spec("synflow", PUBLISHED) == ("full", 16, 5)
    assert net_spec("snip", PUBLISHED) == ("full", 16, 5) and PUBLISHED.batch_size == 64
    assert net_spec("ntk", PUBLISHED) == ("full", 3, 1) and PUBLISHED.ntk_batch == 72
    assert net_spec("regions", PUBLISHED) == ("thin", 1, 1)
    assert net_spec("params", FAST) == net_spec("params", PUBLISHED) == ("full", 16, 5)
    assert net_spec("synflow", FAST) == ("full", 8, 1)
    with pytest.raises(ValueError, match="unknown protocol 'bogus'.*published, fast"):
        get_protocol("bogus")


def test_each_proxy_gets_its_own_inputs():
    inp = load_inputs("cifar10", None, 3, PUBLISHED, need_crops=False)
    x, y = inp.for_proxy("ntk", PUBLISHED)
    assert x.shape == (72, 3, 32, 32) and len(y) == 72
    xs, ys = inp.for_proxy("synflow", PUBLISHED)
    assert xs.shape == (64, 3, 32, 32)
    assert torch.equal(xs, x[:64]) and torch.equal(ys, y[:64])  # one drawn batch, each proxy a prefix of it
    # ... and the 64-image prefix is exactly the batch the fast protocol draws (its caches stay valid)
    fast = load_inputs("cifar10", None, 3, FAST, need_crops=False)
    assert torch.equal(fast.for_proxy("synflow", FAST)[0], xs)
    assert torch.equal(fast.for_proxy("ntk", FAST)[0], xs[:32])
    # meco: the first image alone (MeCo's official NB201 script runs with batch size 1)
    m, my = inp.for_proxy("meco", PUBLISHED)
    assert torch.equal(m, x[:1]) and torch.equal(my, y[:1])
    # a gaussian setting: standard-normal images from the seed alone
    noise = dataclasses.replace(PUBLISHED, per_proxy=(("meco", Setting(batch=1, inputs="gaussian")),))
    g, _ = inp.for_proxy("meco", noise)
    assert g.shape == (1, 3, 32, 32)
    assert torch.equal(g, load_inputs("cifar10", None, 3, noise, need_crops=False).for_proxy("meco", noise)[0])
    assert not torch.equal(g, load_inputs("cifar10", None, 4, noise, need_crops=False).for_proxy("meco", noise)[0])
    assert abs(float(g.mean())) < 0.1 and abs(float(g.std()) - 1) < 0.1  # 3,072 N(0,1) draws
    big = dataclasses.replace(PUBLISHED, per_proxy=(("meco", Setting(batch=2, inputs="gaussian", image_size=64)),))
    assert inp.for_proxy("meco", big)[0].shape == (2, 3, 64, 64)


def test_a_cache_tells_the_protocols_apart_where_they_differ():
    assert FAST.relevant("synflow") != PUBLISHED.relevant("synflow")
    assert FAST.relevant("ntk") != PUBLISHED.relevant("ntk")
    assert FAST.relevant("regions") == PUBLISHED.relevant("regions")  # the same thin net and crops
    assert FAST.relevant("meco") != PUBLISHED.relevant("meco")
    assert PUBLISHED.relevant("meco")["setting"]["batch"] == 1
    assert "meco on C=16 N=5, 1 image(s)" in PUBLISHED.describe()


def test_setting_rejects_nonsense():
    with pytest.raises(ValueError, match="'data' or 'gaussian'"):
        Setting(inputs="noise")
    with pytest.raises(ValueError, match="batch >= 1"):
        Setting(batch=0)


def test_cli_protocol_choice_and_options(capsys):
    assert main(["score", "5000", "--proxies", "params", "--protocol", "fast"]) == 0
    assert "protocol fast: proxies on NB201 C=8 N=1" in capsys.readouterr().out
    assert main(["score", "5000", "--proxies", "params", "--C", "4"]) == 0
    out = capsys.readouterr().out
    assert "protocol published+options: proxies on NB201 C=4 N=5" in out and "ntk on C=3 N=1, batch 72" in out
    with pytest.raises(SystemExit) as exc:
        main(["score", "5000", "--protocol", "bogus"])
    assert exc.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main(["score", "5000", "--proxies", "params", "--ntk-batch", "0"]) == 2
    assert "--ntk-batch must be at least 1" in capsys.readouterr().err


def test_a_settings_options_reach_the_proxy():
    from tenas.correlate.protocol import score_cell
    from tenas.indicators.registry import get_proxy

    assert dict(PUBLISHED.setting("swap").options) == {"repeats": 32}
    assert net_spec("swap", PUBLISHED) == ("full", 3, 1)
    inp = load_inputs("cifar10", None, 0, PUBLISHED, need_crops=False)
    one = dataclasses.replace(PUBLISHED, per_proxy=(("swap", Setting(C=3, N=1, batch=16, options=(("repeats", 2),))),))
    (_, raw, err, *_), = score_cell(5000, ["swap"], "cifar10", 0, one, inp)
    assert err is None
    # the same value by hand: the network score_cell builds, its 16 images, the proxy called with repeats=2
    from tenas.correlate.protocol import build, derive_seed

    net = build(5000, ("full", 3, 1), 10, 0)
    x, _ = inp.for_proxy("swap", one)
    assert x.shape[0] == 16
    assert raw == get_proxy("swap").fn(net, x, None, seed=derive_seed(0, 5000, "proxy"), repeats=2)
    assert raw != get_proxy("swap").fn(net, x, None, seed=derive_seed(0, 5000, "proxy"), repeats=1)
    assert "swap on C=3 N=1, 16 image(s), repeats=32" in PUBLISHED.describe()
