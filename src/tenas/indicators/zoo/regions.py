"""TE-NAS R_N: the number of linear regions a ReLU network cuts its input space into, estimated by the
number of distinct ReLU activation patterns over a set of inputs (Chen, Gong & Wang, ICLR 2021; after
Xiong, Huang & Ke, "On the number of linear regions of convolutional neural networks", ICML 2020).

Definition: on a copy re-initialised as TE-NAS does (Kaiming normal, ``fan_in``; ``init=None`` keeps the
model's weights), count the distinct on/off patterns of every ``nn.ReLU`` unit over ``inputs``, with
:func:`tenas.indicators.regions.count_linear_regions`. Higher is predicted better (more expressive).

Which network and which inputs: TE-NAS counts regions on a *thin* network -- one cell at C=1 channel,
no stem -- fed 3,000 single-channel 3x3 crops of training images (:func:`tenas.indicators.crops.random_crops`),
because on the full network every image of a real batch lands in its own region and the count saturates
at the batch size. ``tenas correlate`` and ``tenas score`` on NAS-Bench-201 cells follow TE-NAS (the
thin net and crops); called directly on any model and batch, this proxy counts that model's own ReLU
patterns on that batch (meaningful only when the batch is large compared with the regions it can tell apart).
"""

from __future__ import annotations

import torch
from torch import nn

from tenas.indicators.registry import register_proxy
from tenas.indicators.zoo._common import generator, working_copy


@register_proxy("regions", higher_is_better=True,
                paper="Chen, Gong & Wang, 'Neural Architecture Search on ImageNet in Four GPU Hours: "
                      "A Theoretically Inspired Perspective', ICLR 2021")
def regions(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None = None, *, seed: int = 0,
            init: str | None = "fan_in", batch_size: int | None = None) -> float:
    """Number of distinct ReLU activation patterns of the model over ``inputs`` (higher is better)."""
    from tenas.indicators.regions import count_linear_regions

    net = working_copy(model)
    if init is not None:
        from tenas.indicators.init import kaiming_init_

        kaiming_init_(net, mode=init, generator=generator(seed))
    kw = {} if batch_size is None else {"batch_size": batch_size}
    with torch.no_grad():
        return float(count_linear_regions(net, inputs, **kw))
