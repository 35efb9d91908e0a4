"""The official TE-NAS code beside the project (``../shared/peer``), imported by side-by-side tests only."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

PEER = Path(__file__).resolve().parents[2] / "shared" / "peer"


def peer_import(*names: str) -> list:
    """``"module:attr"`` names imported from the official code's ``lib/`` (its torchvision stand-ins on the path
    meanwhile, then removed); the test is skipped when the code is not there."""
    if not (PEER / "tenas-official" / "lib").is_dir():
        pytest.skip("the official TE-NAS code is not beside the project (../shared/peer)")
    import matplotlib.colors  # noqa: F401  (the real PIL first: the peer's stubs/ has a stand-in for it)
    import PIL.Image  # noqa: F401

    added = [p for p in (str(PEER / "stubs"), str(PEER / "tenas-official" / "lib")) if p not in sys.path]
    sys.path[:0] = added
    try:
        out = []
        for name in names:
            module, _, attr = name.partition(":")
            out.append(getattr(importlib.import_module(module), attr))
        return out
    finally:
        for p in added:
            sys.path.remove(p)
