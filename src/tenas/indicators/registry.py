"""One registry for every training-free indicator ("zero-cost proxy"): a name selects it.

Proxies are plain functions ``fn(model, inputs, targets, *, seed=0, **options) -> float`` (the *raw*
value in the paper's own units) registered with a decorator, timm-style::

    @register_proxy("synflow", higher_is_better=True, paper="Tanaka et al., NeurIPS 2020")
    def synflow(model, inputs, targets, *, seed=0): ...

and used by name::

    proxy = get_proxy("synflow")
    score = proxy(model, inputs, targets, seed=0)   # ProxyScore(raw=..., oriented=...)
    list_proxies()                                  # every registered name, sorted

Every score is oriented so that **higher means "predicted better"**: ``oriented = raw`` for proxies whose
raw value grows with accuracy and ``oriented = -raw`` for the others (TE-NAS' kappa_N). The raw value is
kept beside it. Contract for every proxy (checked by the tests): it never changes the caller's model
(weights, buffers, ``.grad``, train/eval mode) -- it works on a copy whenever it re-initialises, changes
weights or runs a forward pass in train mode -- and it is deterministic given ``seed``.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

__all__ = [
    "ProxyScore",
    "Proxy",
    "register_proxy",
    "unregister_proxy",
    "get_proxy",
    "list_proxies",
    "compute_proxy",
    "resolve_proxies",
]


@dataclasses.dataclass(frozen=True)
class ProxyScore:
    """A proxy's value: ``raw`` in the paper's units, ``oriented`` so that higher is predicted better."""

    raw: float
    oriented: float

    @property
    def ok(self) -> bool:
        """False when the value is NaN or infinite (a failed measurement)."""
        return math.isfinite(self.raw)


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A registered proxy: the function, its sign convention and where it comes from."""

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    paper: str
    summary: str = ""
    #: "data": uses the batch; "shape": only the batch's shape; "none": only the model.
    uses: str = "data"
    #: keyword options the proxy cannot run without (a protocol's setting supplies them); ``all`` leaves it out
    needs: tuple[str, ...] = ()

    def orient(self, raw: float) -> float:
        """The oriented value of a raw one (higher = predicted better)."""
        return float(raw) if self.higher_is_better else -float(raw)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None,
                 **options: Any) -> ProxyScore:
        raw = float(self.fn(model, inputs, targets, **options))
        return ProxyScore(raw=raw, oriented=self.orient(raw))


_REGISTRY: dict[str, Proxy] = {}
_LOADED = False


def register_proxy(name: str, *, higher_is_better: bool, paper: str, uses: str = "data",
                   needs: tuple[str, ...] = (), replace: bool = False) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator registering ``fn(model, inputs, targets, *, seed=0, **options) -> float`` under ``name``.

    ``higher_is_better`` is the sign convention of the raw value; ``paper`` the reference. Registering a
    name twice is an error unless ``replace=True``. The function itself is returned unchanged.
    """
    if not name or not isinstance(name, str) or name != name.strip() or "," in name or "+" in name:
        raise ValueError(f"proxy names must be non-empty strings without spaces, ',' or '+': got {name!r}")
    if uses not in ("data", "shape", "none"):
        raise ValueError(f"uses must be 'data', 'shape' or 'none', got {uses!r}")

    def decorate(fn: Callable[..., float]) -> Callable[..., float]:
        if name in _REGISTRY and not replace and _REGISTRY[name].fn is not fn:
            raise ValueError(f"a proxy named {name!r} is already registered ({_REGISTRY[name].fn.__module__})")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Proxy(name, fn, bool(higher_is_better), paper, doc[0] if doc else "", uses, tuple(needs))
        return fn

    return decorate


def unregister_proxy(name: str) -> None:
    """Remove a proxy (for tests and plug-ins that register temporary ones)."""
    _REGISTRY.pop(name, None)


def _load_builtin() -> None:
    """Import every module of :mod:`tenas.indicators.zoo` once, so that their decorators run."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from tenas.indicators import zoo

    for info in sorted(pkgutil.iter_modules(zoo.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{zoo.__name__}.{info.name}")


def get_proxy(name: str) -> Proxy:
    """The proxy registered under ``name``; ``KeyError`` lists the known names."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown proxy {name!r}; known proxies: {', '.join(list_proxies())}") from None


def list_proxies() -> list[str]:
    """Every registered proxy name, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def compute_proxy(name: str, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None,
                  **options: Any) -> ProxyScore:
    """``get_proxy(name)(model, inputs, targets, **options)``."""
    return get_proxy(name)(model, inputs, targets, **options)


def resolve_proxies(spec: str | Iterable[str] | None) -> list[str]:
    """Names from a user's choice: ``None`` or ``"all"`` = every proxy that runs without options (see
    ``Proxy.needs``); else a comma list or a list of names.

    Unknown names raise ``ValueError`` naming them and the known ones. Order is kept, duplicates dropped.
    """
    known = list_proxies()
    every = [n for n in known if not _REGISTRY[n].needs]
    if spec is None:
        return every
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    items = [s for s in items if s]
    if not items or items == ["all"]:
        return every
    out: list[str] = []
    for item in items:
        names = every if item == "all" else [item]
        for n in names:
            if n not in _REGISTRY:
                raise ValueError(f"unknown proxy {n!r}; known proxies: {', '.join(known)}")
            if n not in out:
                out.append(n)
    return out
