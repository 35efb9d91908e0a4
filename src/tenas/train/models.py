"""From an architecture (as a user or a search result gives it) to the network trained from scratch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from torch import nn

from tenas.train.protocols import Protocol

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120, "imagenet": 1000}


def _is_file(text: str) -> bool:
    if "(" in text or "|" in text or len(text) > 1024:  # genotype or NB201 cell text, not a path
        return False
    try:
        return Path(text).is_file()
    except OSError:
        return False


def resolve_arch(space: str, arch: str) -> str:
    """The canonical text of an architecture given as text, a published name (``DARTS_V2``), an NB201
    index, or a file: a ``result.json`` of ``tenas search`` (its ``"arch"``) or a text file holding it."""
    text = arch
    path = Path(arch)
    path_like = "/" in arch or "\\" in arch or path.suffix in (".json", ".txt")
    if path_like and "(" not in arch and "|" not in arch and not _is_file(arch):
        raise ValueError(f"{arch}: no such file (ARCH is a file, an architecture text or a published name)")
    if _is_file(arch):
        raw = path.read_text(encoding="utf-8").strip()
        if path.suffix == ".json":
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} is not valid JSON: {exc}") from None
            if not isinstance(data, dict) or not isinstance(data.get("arch"), str):
                raise ValueError(f"{path} has no \"arch\" string (expected a tenas search result.json)")
            raw = data["arch"]
        text = raw
    from tenas.spaces import get_space

    return get_space(space).canonical(text)


def build_model(
    space: str,
    arch: str,
    dataset: str,
    protocol: Protocol,
    channels: Optional[int] = None,
    cells: Optional[int] = None,
    num_classes: Optional[int] = None,
) -> nn.Module:
    """The evaluation network of ``arch`` (already resolved) for ``dataset`` at the protocol's size
    (``channels`` / ``cells`` override it: DARTS total cells, NB201 cells per stage). ``num_classes``:
    the dataset's unless given (own folders: the folder's class count; their networks are CIFAR's)."""
    num_classes = num_classes or NUM_CLASSES.get(dataset)
    if num_classes is None:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(NUM_CLASSES)} (or pass num_classes)")
    C = channels or protocol.channels
    n = cells or protocol.cells
    from tenas.spaces import get_space

    return get_space(space).train_network(arch, dataset, num_classes, C, n, protocol.auxiliary_weight > 0)
