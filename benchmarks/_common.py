"""Helpers shared by the benchmark scripts.

``benchmarks/`` is not a package: a script in a sub-folder puts ``benchmarks/`` (the parent of its folder) on
``sys.path`` and imports ``_common``, or a script of a sub-folder by its folder (``from quality.space_quality
import table``).
"""

from __future__ import annotations


def seeds(text: str) -> list[int]:
    """A seed list: ``"0-9"``, ``"0,2,5"`` or both (``"0-3,7"``)."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out
