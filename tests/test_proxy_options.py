"""``--proxy-option PROXY.KEY=VALUE``: a proxy's keyword options from the command line (reg_swap's mu / sigma)."""

from __future__ import annotations

import math

import pytest

from tenas.cli import main
from tenas.commands.correlate import parse_proxy_options
from tenas.correlate.presets import FAST, PUBLISHED
from tenas.correlate.protocol import build, load_inputs, net_spec, score_cell
from tenas.correlate.run import CorrelateConfig, run_correlate


def test_parse_proxy_options():
    got = parse_proxy_options(["reg_swap.mu=8.5", "reg_swap.sigma=54", "swap.gaussian_init=false", "x.y=z"])
    assert got == {"reg_swap": {"mu": 8.5, "sigma": 54}, "swap": {"gaussian_init": False}, "x": {"y": "z"}}
    assert isinstance(got["reg_swap"]["sigma"], int)
    assert parse_proxy_options(None) == {}
    for bad in ["reg_swap.mu", "mu=1", "reg_swap.=1", ".mu=1", "reg_swap.mu=", "reg_swap.m-u=1"]:
        with pytest.raises(ValueError, match="PROXY.KEY=VALUE"):
            parse_proxy_options([bad])


def test_options_merge_into_the_proxys_setting():
    p = PUBLISHED.with_options({"reg_swap": {"mu": 8.0, "sigma": 50.0}})
    own = p.setting("reg_swap")
    # SWAP's setting stays (C=3 N=1, 16 images, 32 re-initialisations); only mu / sigma are added
    assert (own.C, own.N, own.batch) == (3, 1, 16)
    assert dict(own.options) == {"repeats": 32, "mu": 8.0, "sigma": 50.0}
    assert p.name == "published+options" and PUBLISHED.setting("reg_swap").options == (("repeats", 32),)
    # a proxy without a setting of its own keeps the network and batch it had: only the option is new
    f = FAST.with_options({"swap": {"repeats": 2}})
    assert net_spec("swap", f) == net_spec("swap", FAST) and f.setting("swap").batch == FAST.batch_size
    assert PUBLISHED.with_options({}) is PUBLISHED
    with pytest.raises(ValueError, match="'swap' has no option 'mu'; its options: repeats, gaussian_init"):
        PUBLISHED.with_options({"swap": {"mu": 1.0}})
    with pytest.raises(ValueError, match="'params' takes no options"):
        PUBLISHED.with_options({"params": {"x": 1}})
    with pytest.raises(KeyError, match="unknown proxy 'nope'"):
        PUBLISHED.with_options({"nope": {"x": 1}})


def test_missing_required_options_are_named_before_any_scoring(tmp_path):
    with pytest.raises(ValueError, match=r"reg_swap needs mu, sigma: pass --proxy-option reg_swap.mu=VALUE"):
        PUBLISHED.check_needs(["synflow", "reg_swap"])
    PUBLISHED.with_options({"reg_swap": {"mu": 1.0, "sigma": 2.0}}).check_needs(["synflow", "reg_swap"])
    with pytest.raises(ValueError, match="reg_swap needs sigma"):
        PUBLISHED.with_options({"reg_swap": {"mu": 1.0}}).check_needs(["reg_swap"])
    cfg = CorrelateConfig(dataset="cifar10", sample=5, seed=0, proxies="reg_swap", out=str(tmp_path / "o"),
                          protocol=PUBLISHED, workers=1, plots=False, progress=False)
    with pytest.raises(ValueError, match="reg_swap needs mu, sigma"):
        run_correlate(cfg)
    assert not (tmp_path / "o").exists()  # refused before it made anything


def test_reg_swap_is_swap_times_the_size_factor_on_the_same_network():
    mu, sigma = 8.0, 6.0
    p = PUBLISHED.with_options({"reg_swap": {"mu": mu, "sigma": sigma}})
    inputs = load_inputs("cifar10", None, 0, p, need_crops=False)
    cell = 100
    rows = {name: raw for name, raw, err, *_ in score_cell(cell, ["swap", "reg_swap"], "cifar10", 0, p, inputs)}
    net = build(cell, net_spec("reg_swap", p), 10, 0)
    P = sum(t.numel() for t in net.parameters()) / 1000  # the C=3 N=1 network has no auxiliary head
    assert 2.0 < P < 12.0
    assert rows["reg_swap"] == pytest.approx(rows["swap"] * math.exp(-((P - mu) ** 2) / sigma), rel=1e-12)


def test_cli_proxy_option(capsys):
    assert main(["score", "100", "--proxies", "reg_swap"]) == 2
    assert "reg_swap needs mu, sigma: pass --proxy-option reg_swap.mu=VALUE" in capsys.readouterr().err
    assert main(["score", "100", "--proxies", "swap", "--proxy-option", "swap.bogus=1"]) == 2
    assert "'swap' has no option 'bogus'" in capsys.readouterr().err
    assert main(["score", "100", "--proxies", "swap", "--proxy-option", "nope.x=1"]) == 2
    assert "unknown proxy 'nope'" in capsys.readouterr().err
    assert main(["score", "100", "--proxies", "swap", "--proxy-option", "swapx1"]) == 2
    assert "PROXY.KEY=VALUE" in capsys.readouterr().err
    assert main(["score", "100", "--proxies", "reg_swap", "--proxy-option", "reg_swap.mu=8",
                 "--proxy-option", "reg_swap.sigma=6", "--proxy-option", "reg_swap.repeats=2"]) == 0
    out = capsys.readouterr().out
    assert "reg_swap on C=3 N=1, 16 image(s), mu=8, repeats=2, sigma=6" in out
    value = float(out.splitlines()[3].split()[1])
    assert value > 0
