"""How noisy is the ranking? From finished searches' result.json files (any number), per round:

* within: the standard deviation of a candidate's d_kappa (resp. d_R) across its repeats, averaged over
  candidates;
* between: the standard deviation across candidates of their mean d_kappa (resp. d_R);
* ratio within / between (the issue quotes ~0.5 for d_kappa in the original code).

Non-finite values are left out. Also prints how many distinct cells the searches found.

    .venv/bin/python benchmarks/quality/search_noise.py runs/quality/faithful/cifar10/seed*/result.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np


def _drops(full: list, cand: list) -> np.ndarray:
    from tenas.search.rank import relative_drop

    return np.asarray([relative_drop(f, c) for f, c in zip(full, cand)], dtype=float)


def main(paths: list[str]) -> None:
    table: dict[int, dict[str, list]] = defaultdict(lambda: {"kw": [], "kb": [], "rw": [], "rb": []})
    cells = []
    for path in paths:
        res = json.loads(open(path).read())
        cells.append(res["arch"])
        for i, rnd in enumerate(res["rounds"]):
            if rnd.get("kind", "prune") != "prune":
                continue
            dk = [_drops(rnd["supernet_kappa_repeats"], c["kappa"]) for c in rnd["candidates"]]
            dr = [_drops(rnd["supernet_regions_repeats"], c["regions"]) for c in rnd["candidates"]]
            for key_w, key_b, drops in (("kw", "kb", dk), ("rw", "rb", dr)):
                finite = [d[np.isfinite(d)] for d in drops]
                finite = [d for d in finite if len(d) > 1]
                if len(finite) > 1:
                    table[i][key_w].append(np.mean([d.std(ddof=1) for d in finite]))
                    table[i][key_b].append(np.std([d.mean() for d in finite], ddof=1))
    print(f"{len(paths)} searches, {len(set(cells))} distinct cells")
    print(f"{'round':>5s} {'d_kappa within':>15s} {'between':>9s} {'ratio':>6s}   {'d_R within':>11s} {'between':>9s} {'ratio':>6s}")
    for i in sorted(table):
        t = {k: float(np.mean(v)) for k, v in table[i].items()}
        print(f"{i + 1:5d} {t['kw']:15.3f} {t['kb']:9.3f} {t['kw'] / t['kb']:6.2f}   {t['rw']:11.4f} {t['rb']:9.4f} "
              f"{t['rw'] / t['rb']:6.2f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
