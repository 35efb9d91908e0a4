"""A search space of your own: a small ResNet with a kernel size and a width to choose per block.

    tenas search --space examples/tiny_resnet.py:TinyResNet --max-params 200k
"""
import itertools

import numpy as np
import torch
from torch import nn

from tenas.spaces import BaseSpace, Cost, SpaceDefaults

OPS = ("k3_w1", "k3_w2", "k5_w1", "k5_w2")  # kernel 3 or 5; hidden width 1x or 2x the block's
PLAN = ((16, 1), (16, 1), (32, 2), (64, 2))  # (channels, stride) of the searched blocks


class Block(nn.Module):
    """A residual block; its output averages its alive candidate ops (one alive op: that op alone)."""

    def __init__(self, c_in, c_out, stride, ops=OPS):
        super().__init__()
        conv = lambda i, o, k, s: [nn.Conv2d(i, o, k, s, k // 2, bias=False), nn.BatchNorm2d(o)]  # noqa: E731
        self.ops = nn.ModuleDict({op: nn.Sequential(*conv(c_in, c_out * int(op[-1]), int(op[1]), stride), nn.ReLU(),
                                                    *conv(c_out * int(op[-1]), c_out, int(op[1]), 1)) for op in ops})
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        self.alive = tuple(ops)

    def forward(self, x):
        return torch.relu(self.skip(x) + sum(self.ops[op](x) for op in self.alive) / len(self.alive))


class Net(nn.Module):
    def __init__(self, width=1.0, num_classes=10, stem=True, ops=(OPS,) * len(PLAN)):
        super().__init__()
        ch = [max(1, round(c * width)) for c, _ in PLAN]
        self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[0])) if stem else nn.Identity()
        self.blocks = nn.Sequential(*(Block(i, o, s, b) for i, o, (_, s), b in zip([ch[0]] + ch, ch, PLAN, ops)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch[-1], num_classes))

    def set_alive(self, mask):
        for block, row in zip(self.blocks, np.asarray(mask, bool).reshape(len(PLAN), len(OPS))):
            block.alive = tuple(op for op, on in zip(OPS, row) if on and op in block.ops)
        return self

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class TinyResNet(BaseSpace):
    name, op_names, cell_types, num_edges = "tiny_resnet", OPS, ("network",), len(PLAN)
    defaults = SpaceDefaults(datasets=("cifar10", "cifar100", "folder"))

    def initial_alive(self):
        return np.ones((1, len(PLAN), len(OPS)), dtype=bool)

    def ntk_network(self, alive, num_classes):  # the searched part reads 3 channels (tenas.spaces.base)
        return Net(3 / 16, num_classes).set_alive(alive)

    def region_network(self, alive):  # one channel everywhere, no stem: it reads TE-NAS' 1-channel 3x3 crops
        return Net(1 / 64, stem=False).set_alive(alive)

    def canonical(self, arch):
        if not (isinstance(arch, str) and len(arch) == len(PLAN) and set(arch) <= set("0123")):
            raise ValueError(f"a TinyResNet architecture is {len(PLAN)} digits 0-3 (an op of {OPS} per block), got {arch!r}")
        return arch

    def to_mask(self, arch):
        return np.eye(len(OPS), dtype=bool)[[int(d) for d in self.canonical(arch)]][None]

    def genotype(self, alive):
        return "".join(str(int(np.argmax(row))) for row in np.asarray(alive, bool).reshape(len(PLAN), len(OPS)))

    def neighbours(self, arch):
        return [arch[:i] + d + arch[i + 1:] for i, d in itertools.product(range(len(arch)), "0123") if d != arch[i]]

    def build_network(self, arch, num_classes):
        return Net(1.0, num_classes, ops=[(OPS[int(d)],) for d in self.canonical(arch)])

    def cost(self, arch, num_classes):  # all parameters; multiply-adds of every conv and linear on a 32x32 image
        net, flops = self.build_network(arch, num_classes), []
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.register_forward_hook(lambda m, i, o: flops.append(o[0].numel() * m.weight[0].numel()))
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, 32, 32))
        return Cost(sum(p.numel() for p in net.parameters()), sum(flops))
