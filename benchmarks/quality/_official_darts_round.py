"""ONE pruning round of the official TE-NAS DARTS search, started from given architecture weights.

A wrapper that sets the official code up differently from its launcher, marked as such: ``prune_tenas.py`` always
starts from the full supernet; this calls its ``prune_func_rank`` (untouched) on the alphas it is given, with the
launcher's DARTS settings (batch 14, 3 repeats, precision 3, prune 3 per edge, ``--init kaiming_normal``), the
same data set-up as its ``main`` and its loaders, and records every candidate's mean relative changes (the lists
that ``prune_func_rank`` sorts, read through a ``sorted`` that only looks). Used by ``darts_round_probe.py``; run
with the peer's Python from ``../shared/peer/tenas-official`` with ``PYTHONPATH=../stubs``:

    python _official_darts_round.py ALPHAS.npy SEED DATA_DIR OUT.json

``ALPHAS.npy``: float32 (2, 14, 8), the official op order, 0 for an alive op and -1000 for a pruned one.
"""

import builtins
import json
import sys
from pathlib import Path

import numpy as np
import torch
from easydict import EasyDict as edict

sys.path.insert(0, str(Path.cwd()))
import prune_tenas as pt  # noqa: E402  (adds the official lib/ to sys.path itself)


def main() -> None:
    alphas_path, seed, data_path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    pt.prepare_seed(seed)
    train_data, valid_data, _, class_num = pt.get_datasets("cifar10", data_path, -1)
    _, train_loader, _ = pt.get_nas_search_loaders(train_data, valid_data, "cifar10", "configs/", 14, 0)
    space = pt.get_search_spaces("cell", "darts")
    common = {"name": "DARTS-V1", "C": 1, "N": 1, "depth": 2, "stem_multiplier": 1, "num_classes": class_num,
              "space": space, "affine": True, "track_running_stats": True, "super_type": "nasnet-super",
              "steps": 4, "multiplier": 4}
    model_config = edict({**common, "use_stem": True})  # as prune_tenas.main builds them for darts
    model_config_thin = edict({**common, "use_stem": False, "max_nodes": 4})
    lrc = pt.Linear_Region_Collector(input_size=(1000, 1, 3, 3), sample_batch=3, dataset="cifar10",
                                     data_path=data_path, seed=seed)
    xargs = edict(repeat=3, init="kaiming_normal", rand_seed=seed)
    arch = [torch.tensor(a) for a in np.load(alphas_path)]

    seen = []

    def looking_sorted(seq, key=None, reverse=False):
        seq = list(seq)
        seen.append(seq)
        return builtins.sorted(seq, key=key, reverse=reverse)

    pt.sorted = looking_sorted  # module global: shadows the builtin inside prune_tenas only
    after, choices = pt.prune_func_rank(xargs, arch, model_config, model_config_thin, train_loader, lrc, space,
                                        precision=3, prune_number=3)
    ntk, regions = ({tuple(int(i) for i in key): float(v) for v, key in seen[n]} for n in (0, 1))
    assert set(ntk) == set(regions), "the first two sorted lists are not ntk_all and regions_all"
    pruned = {tuple(int(i) for i in c) for group in choices for c in group}
    rows = [{"cell": t, "edge": e, "op": space[k], "d_kappa": ntk[(t, e, k)], "d_regions": regions[(t, e, k)],
             "pruned": (t, e, k) in pruned} for (t, e, k) in sorted(ntk)]
    with open(out, "w") as f:
        json.dump({"seed": seed, "ops": list(space), "candidates": rows,
                   "alphas_after": [a.detach().cpu().numpy().tolist() for a in after]}, f)


if __name__ == "__main__":
    main()
