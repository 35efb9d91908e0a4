"""The fused NAS-Bench-201 cell: one ReLU, one convolution and one BatchNorm per source node.

A cell with every op alive runs 12 ReLU-Conv-BN ops, 6 poolings and ~20 additions, on tensors of a few
channels. All convolutions reading node j see the same ReLU(node j): they are computed as one
convolution with the weights concatenated along the output channels (a 1x1 kernel zero-padded to 3x3
when both sizes are alive), followed by one BatchNorm over the concatenated channels -- BatchNorm is per
channel, so this is exact -- whose affine weight and bias absorb the edge's 1/len(alive). The pooling of
node j is computed once for all its edges. Weights are re-assembled from the op modules' own parameters
and buffers on every call, so gradients reach the original parameters and running statistics are
updated in place exactly as the op modules would update them; the function computed is the same (up to
float rounding from the order of additions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from tenas.spaces.nb201.cells import EDGES
from tenas.spaces.ops import Identity, Pool, ReLUConvBN, Zero

if TYPE_CHECKING:
    from tenas.spaces.nb201.network import Cell201

_EDGE_INDEX = {edge: k for k, edge in enumerate(EDGES)}


def _has_hooks(module: nn.Module) -> bool:
    from torch.nn.modules import module as _m

    for name in ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks"):
        if getattr(_m, name, None):
            return True
    return any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks
               for m in module.modules())


def _standard_conv(op: nn.Module) -> bool:
    if type(op) is not ReLUConvBN or len(op) != 3:
        return False
    relu, conv, bn = op[0], op[1], op[2]
    k = conv.kernel_size[0] if type(conv) is nn.Conv2d else 0
    return (type(relu) is nn.ReLU and type(bn) is nn.BatchNorm2d and k in (1, 3)
            and conv.kernel_size == (k, k) and conv.stride == (1, 1) and conv.padding == (k // 2, k // 2)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.bias is None and conv.padding_mode == "zeros")


def _standard_pool(op: nn.Module) -> bool:
    if type(op) is not Pool or op.preprocess is not None or type(op.pool) is not nn.AvgPool2d:
        return False
    p = op.pool
    return (p.kernel_size in (3, (3, 3)) and p.stride in (1, (1, 1)) and p.padding in (1, (1, 1))
            and not p.count_include_pad and not p.ceil_mode and p.divisor_override is None)


def _same_bn_settings(bns: list[nn.BatchNorm2d]) -> bool:
    b0 = bns[0]
    for bn in bns[1:]:
        if (bn.training, bn.track_running_stats, bn.affine, bn.eps, bn.momentum) != (
                b0.training, b0.track_running_stats, b0.affine, b0.eps, b0.momentum):
            return False
    if b0.training and b0.track_running_stats and b0.momentum is None:  # cumulative average: same counts
        counts = {int(bn.num_batches_tracked) for bn in bns}
        return len(counts) == 1
    return True


def fusion_plan(cell: Cell201) -> list | None:
    """Per source node j: (skip coefficient per target node, pool coefficient per target node,
    [(ReLUConvBN, factor, target node)]); None when the cell must run op by op."""
    if _has_hooks(cell):
        return None
    plan = []
    for j in range(3):
        skip: dict[int, float] = {}
        pool: dict[int, float] = {}
        convs: list[tuple[ReLUConvBN, float, int]] = []
        for i in range(j + 1, 4):
            edge = cell.edges[_EDGE_INDEX[(i, j)]]
            factor = 1.0 / len(edge.alive) if len(edge.alive) > 1 else 1.0
            for name in edge.alive:
                op = edge.ops[name]
                if type(op) is Zero:
                    continue
                if type(op) is Identity:
                    skip[i] = skip.get(i, 0.0) + factor
                elif _standard_pool(op):
                    pool[i] = pool.get(i, 0.0) + factor
                elif _standard_conv(op):
                    convs.append((op, factor, i))
                else:
                    return None
        if convs and not _same_bn_settings([op[2] for op, _, _ in convs]):
            return None
        plan.append((skip, pool, convs))
    return plan


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """``AvgPool2d(3, 1, 1, count_include_pad=False)`` as a depthwise box sum times 1/count (a faster
    backward pass on CPU than the pooling kernel's)."""
    c, h, w = x.shape[1:]

    def counts(size: int) -> torch.Tensor:  # how many of the 3 taps fall inside, per row/column
        t = torch.full((size,), 3.0, dtype=x.dtype, device=x.device)
        t[0] -= 1.0
        t[-1] -= 1.0
        return t.clamp_(min=1.0)

    inv = (counts(h)[:, None] * counts(w)[None, :]).reciprocal_()
    ones = torch.ones(c, 1, 3, 3, dtype=x.dtype, device=x.device)
    return F.conv2d(x, ones, padding=1, groups=c) * inv


def _relu_conv_bn_group(x: torch.Tensor, convs: list) -> list[torch.Tensor]:
    """All ReLU-Conv-BN ops reading ``x`` as one conv and one BatchNorm: each op's output times its factor,
    in ``convs`` order. Channels are ordered 3x3 ops first, so that the 1x1 weights are padded in one op;
    few autograd nodes matter because the NTK runs one backward pass per sample."""
    order = [k for k, (op, _, _) in enumerate(convs) if op[1].kernel_size[0] == 3]
    ones = [k for k, (op, _, _) in enumerate(convs) if op[1].kernel_size[0] == 1]
    order += ones

    def cat(tensors: list[torch.Tensor]) -> torch.Tensor:
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors)

    w3 = [convs[k][0][1].weight for k in order[:len(order) - len(ones)]]
    w1 = [convs[k][0][1].weight for k in ones]
    if w3 and w1:
        weight = torch.cat(w3 + [F.pad(cat(w1), (1, 1, 1, 1))])
    else:
        weight = cat(w3 or w1)
    z = F.conv2d(F.relu(x), weight, padding=1 if w3 else 0)

    bns = [convs[k][0][2] for k in order]
    factors = [convs[k][1] for k in order]
    b0 = bns[0]
    scale = None
    if any(f != 1.0 for f in factors):
        scale = torch.tensor(factors, dtype=z.dtype, device=z.device).repeat_interleave(b0.num_features)
    if b0.affine:
        bn_weight, bn_bias = cat([bn.weight for bn in bns]), cat([bn.bias for bn in bns])
        if scale is not None:
            bn_weight, bn_bias = bn_weight * scale, bn_bias * scale
    else:
        bn_weight, bn_bias = scale, None
    # BatchNorm2d.forward, for the concatenated channels
    momentum = 0.0 if b0.momentum is None else b0.momentum
    if b0.training and b0.track_running_stats:
        for bn in bns:
            bn.num_batches_tracked.add_(1)
        if b0.momentum is None:
            momentum = 1.0 / float(b0.num_batches_tracked)
    if (not b0.training or b0.track_running_stats) and b0.running_mean is not None:
        mean, var = cat([bn.running_mean for bn in bns]), cat([bn.running_var for bn in bns])
        if len(bns) == 1:  # F.batch_norm updates them in place: never hand over the buffers themselves
            mean, var = mean.clone(), var.clone()
    else:
        mean = var = None
    batch_stats = b0.training or mean is None
    y = F.batch_norm(z, mean, var, bn_weight, bn_bias, batch_stats, momentum, b0.eps)
    if batch_stats and mean is not None:  # write the updated running statistics back
        with torch.no_grad():
            start = 0
            for bn in bns:
                stop = start + bn.num_features
                bn.running_mean.copy_(mean[start:stop])
                bn.running_var.copy_(var[start:stop])
                start = stop
    # unbind (not slicing): its backward writes the gradient of the whole group in one pass
    outs = y.unflatten(1, (len(order), x.shape[1])).unbind(1)
    result: list[torch.Tensor] = [outs[0]] * len(convs)
    for position, k in enumerate(order):
        result[k] = outs[position]
    return result


def fused_cell(plan: list, x: torch.Tensor) -> torch.Tensor:
    """The cell's output computed along ``plan`` (see :func:`fusion_plan`)."""
    nodes = [x]
    acc: list[torch.Tensor | None] = [None] * 4
    for j, (skip, pool, convs) in enumerate(plan):
        xj = nodes[j]
        terms: list[tuple[int, torch.Tensor]] = []
        pooled = _avg_pool_3x3(xj) if pool else None
        shared: dict[tuple[float, float], torch.Tensor] = {}
        for i in range(j + 1, 4):
            a, b = skip.get(i, 0.0), pool.get(i, 0.0)
            if not (a or b):
                continue
            if (a, b) not in shared:
                if a and a == b:
                    t = xj + pooled
                    shared[(a, b)] = t if a == 1.0 else t * a
                else:
                    t = None
                    if a:
                        t = xj if a == 1.0 else xj * a
                    if b:
                        tb = pooled if b == 1.0 else pooled * b
                        t = tb if t is None else t + tb
                    shared[(a, b)] = t
            terms.append((i, shared[(a, b)]))
        if convs:
            terms.extend((i, out) for (_, _, i), out in zip(convs, _relu_conv_bn_group(xj, convs)))
        for i, t in terms:
            acc[i] = t if acc[i] is None else acc[i] + t
        nodes.append(torch.zeros_like(x) if acc[j + 1] is None else acc[j + 1])
    return nodes[3]
