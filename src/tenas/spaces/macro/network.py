"""The NAS-Bench-Macro network in torch: evaluation networks and the (alive-masked) supernet.

Stem (3x3 conv, BN, ReLU) -> 8 searchable layers in 3 stages -> head (1x1 conv, BN, ReLU, global average
pool, linear). Each searchable layer is a :class:`MacroLayer` whose output is the mean of its alive ops'
outputs; with one op alive it is exactly that op (the benchmark's network). At ``width=1`` the network is
the benchmark's, parameter for parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from tenas.spaces.macro.strings import (
    HEAD_CHANNELS,
    IMAGE_CHANNELS,
    IR_SPECS,
    NUM_LAYERS,
    NUM_OPS,
    OP_NAMES,
    STEM_CHANNELS,
    STAGE_CHANNELS,
    ArchLike,
    layer_channels,
    parse_arch,
    scaled,
)

__all__ = [
    "InvertedResidual",
    "ReduceIdentity",
    "make_op",
    "MacroLayer",
    "MacroNetwork",
    "build_network",
    "supernet",
]


class ReduceIdentity(nn.Sequential):
    """The identity op of a stage's first layer: 1x1 conv (stride 2, no bias) + BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False), nn.BatchNorm2d(c_out))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, BN, ReLU, depthwise kxk, BN, ReLU, 1x1 project, BN (+ input if shapes match)."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int, expansion: int) -> None:
        super().__init__()
        hidden = round(c_in * expansion)
        self.residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, 1, 0, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output."""
        out = self.body(x)
        return out + x if self.residual else out


def make_op(name: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The module of candidate op ``name`` for a layer of the given shape."""
    if name == "identity":
        if stride == 1 and c_in == c_out:
            return nn.Identity()
        return ReduceIdentity(c_in, c_out, stride)
    if name in IR_SPECS:
        kernel, expansion = IR_SPECS[name]
        return InvertedResidual(c_in, c_out, stride, kernel, expansion)
    raise ValueError(f"unknown NAS-Bench-Macro op {name!r}; choose from {', '.join(OP_NAMES)}")


class MacroLayer(nn.Module):
    """One searchable layer: its candidate ops (``self.ops``); the output is the mean of the alive ones."""

    def __init__(self, c_in: int, c_out: int, stride: int, ops: Sequence[str]) -> None:
        super().__init__()
        names = tuple(ops)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a layer needs one or more distinct op names, got {names!r}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.ops = nn.ModuleDict({name: make_op(name, c_in, c_out, stride) for name in names})
        self.alive: tuple[str, ...] = names

    def set_alive(self, names: Sequence[str]) -> None:
        """Switch on exactly the ops ``names`` (a non-empty subset of this layer's ops)."""
        names = tuple(names)
        unknown = [n for n in names if n not in self.ops]
        if not names or unknown:
            raise ValueError(f"alive ops must be a non-empty subset of {tuple(self.ops)}, got {names!r}")
        self.alive = tuple(n for n in self.ops if n in names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the alive ops' outputs (exactly the op's output when one is alive)."""
        if len(self.alive) == 1:
            return self.ops[self.alive[0]](x)
        total = sum(self.ops[name](x) for name in self.alive)
        return total / len(self.alive)


class MacroNetwork(nn.Module):
    """The NAS-Bench-Macro network; ``layer_ops[i]`` names the candidate ops of layer ``i``.

    ``in_channels`` is the input's channel count: the image's (default 3) with the stem; without it
    (``stem=False``), the first layer's (default the scaled stem width).
    """

    def __init__(
        self,
        layer_ops: Sequence[Sequence[str]],
        *,
        width: float = 1.0,
        num_classes: int = 10,
        stem: bool = True,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(layer_ops, str) or len(layer_ops) != NUM_LAYERS:
            raise ValueError(f"layer_ops needs {NUM_LAYERS} sequences of op names, got {layer_ops!r}")
        c_stem = scaled(STEM_CHANNELS, width)
        if stem:
            c_image = IMAGE_CHANNELS if in_channels is None else int(in_channels)
            self.stem: nn.Module = nn.Sequential(
                nn.Conv2d(c_image, c_stem, 3, 1, 1, bias=False), nn.BatchNorm2d(c_stem), nn.ReLU()
            )
            plan = layer_channels(width)
        else:
            self.stem = nn.Identity()
            plan = layer_channels(width, in_channels)
        self.layers = nn.ModuleList(
            MacroLayer(c_in, c_out, stride, ops) for (c_in, c_out, stride), ops in zip(plan, layer_ops)
        )
        c_last, c_head = scaled(STAGE_CHANNELS[-1], width), scaled(HEAD_CHANNELS, width)
        self.head = nn.Sequential(
            nn.Conv2d(c_last, c_head, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_head),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(1),
        )
        self.classifier = nn.Linear(c_head, num_classes)
        self.width, self.num_classes = width, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch N x C x H x W."""
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(self.head(x))

    def stage_modules(self) -> list[nn.Module]:
        """The modules whose outputs are the network's stage features (AZ-NAS): the stem (when there is one) and
        every layer, in call order."""
        return ([] if isinstance(self.stem, nn.Identity) else [self.stem]) + list(self.layers)

    def set_alive(self, mask: np.ndarray | torch.Tensor | Sequence) -> MacroNetwork:
        """Switch on the ops of a bool mask (8, 3) or (1, 8, 3) (columns in ``OP_NAMES`` order); returns self."""
        arr = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.shape != (NUM_LAYERS, NUM_OPS):
            raise ValueError(f"alive mask must have shape ({NUM_LAYERS}, {NUM_OPS}) or (1, 8, 3), got {arr.shape}")
        arr = arr.astype(bool)
        for i, layer in enumerate(self.layers):
            layer.set_alive([name for name, on in zip(OP_NAMES, arr[i]) if on])
        return self

    def get_alive(self) -> np.ndarray:
        """The bool (8, 3) mask of alive ops."""
        return np.array([[name in layer.alive for name in OP_NAMES] for layer in self.layers], dtype=bool)


def build_network(arch: ArchLike, num_classes: int = 10, width: float = 1.0) -> MacroNetwork:
    """The evaluation network of an architecture (one op per layer)."""
    return MacroNetwork([[OP_NAMES[d]] for d in parse_arch(arch)], width=width, num_classes=num_classes)


def supernet(
    alive: np.ndarray | torch.Tensor | Sequence | None = None,
    *,
    width: float = 1.0,
    num_classes: int = 10,
    stem: bool = True,
    in_channels: int | None = None,
) -> MacroNetwork:
    """All three ops on every layer; ``alive`` (bool (8, 3) or (1, 8, 3)) switches some off (default all on)."""
    net = MacroNetwork(
        [OP_NAMES] * NUM_LAYERS, width=width, num_classes=num_classes, stem=stem, in_channels=in_channels
    )
    return net if alive is None else net.set_alive(alive)
