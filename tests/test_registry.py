"""The proxy registry: decorator, lookup by name, listing, selection strings."""

from __future__ import annotations

import pytest
import torch

from tenas.indicators import registry
from tenas.indicators.registry import (
    ProxyScore,
    compute_proxy,
    get_proxy,
    list_proxies,
    register_proxy,
    resolve_proxies,
    unregister_proxy,
)


@pytest.fixture
def temp_proxy():
    @register_proxy("test_sum", higher_is_better=False, paper="a test")
    def test_sum(model, inputs, targets=None, *, seed=0):
        """Sum of the inputs."""
        return float(inputs.sum()) + seed

    yield test_sum
    unregister_proxy("test_sum")


def test_decorator_registers_and_returns_the_function(temp_proxy):
    assert "test_sum" in list_proxies()
    p = get_proxy("test_sum")
    assert p.fn is temp_proxy and p.paper == "a test" and p.summary == "Sum of the inputs."
    score = compute_proxy("test_sum", torch.nn.Identity(), torch.ones(2, 3), seed=1)
    assert score == ProxyScore(raw=7.0, oriented=-7.0) and score.ok


def test_duplicate_names_are_refused_unless_replaced(temp_proxy):
    with pytest.raises(ValueError, match="already registered"):
        register_proxy("test_sum", higher_is_better=True, paper="x")(lambda m, i, t=None, seed=0: 0.0)
    register_proxy("test_sum", higher_is_better=True, paper="x", replace=True)(lambda m, i, t=None, seed=0: 0.0)
    assert get_proxy("test_sum").higher_is_better


def test_bad_names_and_unknown_lookups():
    for bad in ("", "a,b", " x", "a+b"):
        with pytest.raises(ValueError):
            register_proxy(bad, higher_is_better=True, paper="x")
    with pytest.raises(KeyError, match="known proxies: .*synflow"):
        get_proxy("nope")


def test_list_is_sorted_and_has_the_builtins():
    names = list_proxies()
    assert names == sorted(names)
    assert {"ntk", "regions", "naswot", "synflow", "snip", "grasp", "fisher", "grad_norm", "jacob_cov", "zico",
            "zen", "params", "flops"} <= set(names)


def test_resolve_proxies():
    every = [n for n in list_proxies() if not get_proxy(n).needs]
    assert resolve_proxies(None) == every == resolve_proxies("all")
    # a proxy that cannot run without options (reg_swap: mu, sigma) is named explicitly, never part of "all"
    assert get_proxy("reg_swap").needs == ("mu", "sigma") and "reg_swap" not in every
    assert resolve_proxies("reg_swap,synflow") == ["reg_swap", "synflow"]
    assert resolve_proxies("synflow, naswot,synflow") == ["synflow", "naswot"]
    assert resolve_proxies(["params"]) == ["params"]
    with pytest.raises(ValueError, match="unknown proxy 'bogus'"):
        resolve_proxies("synflow,bogus")


def test_score_ok_flags_failures():
    assert not ProxyScore(float("nan"), float("nan")).ok
    assert not ProxyScore(float("inf"), float("-inf")).ok
    assert registry.get_proxy("params").uses == "none"
