"""Probe: does a few epochs of training of a small NB201 network tell apart the cells near the all-3x3 cell?

    .venv/bin/python benchmarks/studies/short_train_probe.py C N EPOCHS SEED [cifar10|cifar100]

Trains each of 8 fixed cells (the all-3x3 cell, which the synflow local step of --objective tenas+ usually ends
at, its edge-0->3 variants, and a few others) at width C / N cells per stage for EPOCHS passes over 9,000 images of
../shared/data/cifar/<dataset>_train_10k.npz (SGD 0.1, momentum 0.9, nesterov, wd 5e-4, cosine, batch 128,
crop+flip), and prints the benchmark accuracy (CIFAR-10: the cifar10-valid split's validation accuracy, CIFAR-100:
test) beside the accuracy on the 1,000 held-out images. A variant-search probe for issue 16, not part of tenas.
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
torch.set_num_threads(2)  # noqa: E402
from tenas.spaces.nb201 import TinyNetwork, to_cell
from tenas.bench.nb201 import lookup
from tenas.data import load_dataset, to_tensor
from tenas.data.transforms import augment, black
C,N,E,seed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
dsname = sys.argv[5] if len(sys.argv)>5 else 'cifar10'
ds = load_dataset(dsname,str(Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'cifar' / f'{dsname}_train_10k.npz'))
X = to_tensor(np.asarray(ds.x), ds); Y = torch.as_tensor(np.asarray(ds.y))
g = torch.Generator().manual_seed(seed); perm = torch.randperm(len(Y), generator=g)
tr, va = perm[:9000], perm[9000:]
cells = ['|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|',
 '|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|',
 '|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|']
fill = black(ds); B=128
steps = int(E*9000/B)
key = 'cifar10_valid_valid' if dsname=='cifar10' else 'cifar100_test'
for c in cells:
    torch.manual_seed(seed)
    net = TinyNetwork([[o] for o in to_cell(c)], C=C, N=N, num_classes=ds.num_classes)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gb = torch.Generator().manual_seed(seed+1)
    t=time.perf_counter(); net.train()
    for s in range(steps):
        idx = tr[torch.randint(0,9000,(B,),generator=gb)]
        xb = augment(X[idx], gb, 4, fill=fill)
        out = net(xb); out = out[1] if isinstance(out,tuple) else out
        loss = torch.nn.functional.cross_entropy(out, Y[idx])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    net.eval()
    with torch.no_grad():
        o = net(X[va]); o = o[1] if isinstance(o,tuple) else o
        acc = (o.argmax(1)==Y[va]).float().mean().item()*100
    print(f"{lookup(c).to_dict()[key]:6.2f}  acc {acc:5.1f}  loss {loss.item():.2f}  {time.perf_counter()-t:5.1f}s  {c}", flush=True)
