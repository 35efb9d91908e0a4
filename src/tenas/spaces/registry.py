"""A name selects a search space (timm's ``register_model`` / ``create_model`` idiom), or a user's own class.

    @register_space("nb201")
    class NB201Space(BaseSpace): ...

    get_space("nb201")                       # a registered space
    get_space("my_pkg.my_module:MySpace")    # a class in an importable module
    get_space("path/to/file.py:MySpace")     # a class in a Python file
    space_spec(space)                        # the string a worker rebuilds ``space`` from (with space.options())

The built-in spaces are registered when :mod:`tenas.spaces` is imported (their modules load lazily).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from tenas.spaces.base import SpaceError, check_space

__all__ = ["register_space", "get_space", "list_spaces", "space_spec", "load_space_class", "SpaceError"]

#: name -> "module:Class" (registered by a decorator, or lazily by tenas.spaces for the built-in ones)
_REGISTRY: dict[str, str] = {}


def register_space(name: str, target: str | None = None):
    """Register a space class under ``name``: as a decorator, or with ``target`` = ``"module:Class"`` (lazy)."""
    if target is not None:
        _REGISTRY[name] = target
        return None

    def deco(cls):
        check_space(cls)
        _REGISTRY[name] = f"{cls.__module__}:{cls.__qualname__}"
        return cls

    return deco


def list_spaces() -> list[str]:
    """The registered space names, sorted."""
    return sorted(_REGISTRY)


def _load_file(path: Path) -> Any:
    """A Python file loaded as a module (once per process, under a name derived from its path)."""
    name = "tenas_user_space_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpaceError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise SpaceError(f"{path} does not import: {type(exc).__name__}: {exc}") from None
    module.__tenas_file__ = str(path)
    return module


def load_space_class(spec: str) -> type:
    """The class of ``module:Class`` or ``file.py:Class`` (``SpaceError`` says what is wrong)."""
    where, sep, cls_name = spec.rpartition(":")
    if not sep or not where or not cls_name:
        raise SpaceError(f"a space is a registered name ({', '.join(list_spaces())}), 'module:Class' or "
                         f"'path/to/file.py:Class', got {spec!r}")
    if where.endswith(".py"):
        path = Path(where).expanduser().resolve()
        if not path.is_file():
            raise SpaceError(f"space file {where} not found (expected 'path/to/file.py:Class')")
        module = _load_file(path)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise SpaceError(f"space module {where!r} does not import: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in cls_name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise SpaceError(f"{where} has no class {cls_name!r}")
    if not isinstance(obj, type):
        raise SpaceError(f"{spec} is not a class")
    return check_space(obj)


def get_space(spec: str, **options: Any):
    """The space named ``spec`` (registered name, ``module:Class`` or ``file.py:Class``) built with ``options``."""
    if not isinstance(spec, str) or not spec:
        raise SpaceError(f"a space is given by name, got {spec!r}")
    target = _REGISTRY.get(spec)
    if target is None and ":" not in spec:
        raise SpaceError(f"unknown search space {spec!r}; choose from {', '.join(list_spaces())}, "
                         f"or give your own as 'module:Class' or 'path/to/file.py:Class'")
    cls = load_space_class(target or spec)
    try:
        space = cls(**options)
    except TypeError as exc:
        raise SpaceError(f"space {spec!r} cannot be built with options {options}: {exc}") from None
    return check_space(space)


def space_spec(space: Any) -> str:
    """The string :func:`get_space` rebuilds ``space`` from: its registered name, ``file.py:Class`` for a class
    loaded from a file, else ``module:Class``."""
    cls = type(space)
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, registered in _REGISTRY.items():
        module, _, cls_name = registered.partition(":")
        loaded = sys.modules.get(module)
        if registered == target or (loaded is not None and getattr(loaded, cls_name, None) is cls):
            return name
    file = getattr(sys.modules.get(cls.__module__), "__tenas_file__", None)
    if file:
        return f"{file}:{cls.__qualname__}"
    if cls.__module__ == "__main__":
        main = getattr(sys.modules["__main__"], "__file__", None)
        if main:
            return f"{Path(main).resolve()}:{cls.__qualname__}"
    if "<locals>" in cls.__qualname__:
        raise SpaceError(f"{cls.__qualname__} is defined inside a function: worker processes cannot rebuild it; "
                         "define it at module level")
    return target
