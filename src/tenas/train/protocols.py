"""Training-from-scratch protocols as plain data (the hyper-parameters of the papers' evaluation runs).

- ``darts-cifar``: DARTS' ``train.py`` (Liu et al. 2019), also used by TE-NAS for CIFAR-10: SGD momentum
  0.9, lr 0.025 cosine-annealed to 0 (stepped per epoch), weight decay 3e-4, batch 96, 600 epochs,
  cutout 16, drop-path 0.3 (linearly increased from 0), auxiliary head weight 0.4, gradient clipping 5.
  Network: 20 cells, 36 channels.
- ``darts-imagenet``: the mobile setting as TE-NAS trains it (PC-DARTS' ``train_imagenet.py``): SGD
  momentum 0.9, lr 0.5, batch 1024, weight decay 3e-5, 250 epochs, lr decayed linearly to 0 (last 5
  epochs with a smaller slope) after a 5-epoch linear warm-up, label smoothing 0.1, auxiliary 0.4,
  gradient clipping 5, no drop-path. Network: 14 cells, 48 channels.
- ``nb-macro``: NAS-Bench-Macro's training of every network (Su et al. 2021): 50 epochs, SGD momentum 0.9, lr 0.1
  cosine-annealed, weight decay 5e-4, batch 256, random crop + flip. Network: the benchmark's (stem 32 channels).
- ``nb201``: NAS-Bench-201's training of every cell (Dong & Yang 2020): 200 epochs, SGD momentum 0.9
  with Nesterov, lr 0.1 cosine-annealed to 0 per iteration, weight decay 5e-4, batch 256, random crop +
  flip, no cutout. Network: N=5 cells per stage, 16 channels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional


@dataclass(frozen=True)
class Protocol:
    name: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str  # "cosine" or "linear" (PC-DARTS' ImageNet decay)
    per_iteration: bool  # the lr changes every iteration (True) or once per epoch (False)
    warmup_epochs: int  # linear warm-up over the first epochs (0 = none)
    label_smoothing: float
    cutout: int  # side of the cutout square (0 = none)
    drop_path: float  # final drop-path probability, increased linearly from 0 over the epochs
    auxiliary_weight: float  # weight of the auxiliary head's loss (0 = no auxiliary head)
    grad_clip: Optional[float]  # max gradient norm (None = no clipping)
    channels: int  # network width (C)
    cells: int  # network depth: DARTS total cells; NB201 cells per stage (N)
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **changes: Any) -> "Protocol":
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def lr_at(self, epoch: int, progress: float = 0.0) -> float:
        """The learning rate during ``epoch`` (0-based) at ``progress`` in [0, 1) through it."""
        t = epoch + (progress if self.per_iteration else 0.0)
        E = self.epochs
        if self.schedule == "cosine":
            lr = 0.5 * self.lr * (1.0 + math.cos(math.pi * t / E))
        elif self.schedule == "linear":
            # PC-DARTS adjust_lr: linear to 0, the last 5 epochs on a smaller slope
            if E - t > 5:
                lr = self.lr * (E - 5 - t) / max(E - 5, 1)
            else:
                lr = self.lr * (E - t) / (max(E - 5, 1) * 5)
        else:  # pragma: no cover - guarded by PROTOCOLS
            raise ValueError(f"unknown schedule {self.schedule!r}")
        if epoch < self.warmup_epochs:
            lr *= (epoch + 1) / self.warmup_epochs  # PC-DARTS: per epoch, 1/5 .. 5/5
        return lr


PROTOCOLS: dict[str, Protocol] = {
    "darts-cifar": Protocol(
        name="darts-cifar", epochs=600, batch_size=96, lr=0.025, momentum=0.9, nesterov=False,
        weight_decay=3e-4, schedule="cosine", per_iteration=False, warmup_epochs=0, label_smoothing=0.0,
        cutout=16, drop_path=0.3, auxiliary_weight=0.4, grad_clip=5.0, channels=36, cells=20,
        source="DARTS train.py (Liu et al., ICLR 2019); TE-NAS CIFAR-10 evaluation",
    ),
    "darts-imagenet": Protocol(
        name="darts-imagenet", epochs=250, batch_size=1024, lr=0.5, momentum=0.9, nesterov=False,
        weight_decay=3e-5, schedule="linear", per_iteration=False, warmup_epochs=5, label_smoothing=0.1,
        cutout=0, drop_path=0.0, auxiliary_weight=0.4, grad_clip=5.0, channels=48, cells=14,
        source="PC-DARTS train_imagenet.py (Xu et al., ICLR 2020), as used by TE-NAS for ImageNet",
    ),
    "nb-macro": Protocol(
        name="nb-macro", epochs=50, batch_size=256, lr=0.1, momentum=0.9, nesterov=False,
        weight_decay=5e-4, schedule="cosine", per_iteration=False, warmup_epochs=0, label_smoothing=0.0,
        cutout=0, drop_path=0.0, auxiliary_weight=0.0, grad_clip=None, channels=32, cells=8,
        source="NAS-Bench-Macro (Su et al., CVPR 2021), its 50-epoch CIFAR-10 recipe",
    ),
    "nb201": Protocol(
        name="nb201", epochs=200, batch_size=256, lr=0.1, momentum=0.9, nesterov=True,
        weight_decay=5e-4, schedule="cosine", per_iteration=True, warmup_epochs=0, label_smoothing=0.0,
        cutout=0, drop_path=0.0, auxiliary_weight=0.0, grad_clip=None, channels=16, cells=5,
        source="NAS-Bench-201 (Dong & Yang, ICLR 2020), 200-epoch schedule",
    ),
}


def protocol_for(space: str, dataset: str) -> Protocol:
    """The protocol for training a ``space`` architecture on ``dataset`` (the space's ``train_protocol``)."""
    from tenas.spaces import get_space

    name = getattr(get_space(space), "train_protocol", lambda d: None)(dataset)
    if name not in PROTOCOLS:
        raise ValueError(f"space {space!r} names no training protocol for {dataset!r} (train_protocol(dataset) gives "
                         f"one of {', '.join(PROTOCOLS)})")
    return PROTOCOLS[name]
