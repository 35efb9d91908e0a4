"""A short-budget training study of DARTS cells: one reduced protocol for every architecture.

    .venv/bin/python benchmarks/quality/darts_short_train.py [--seeds 0] [--epochs 10] [--channels 16] [--cells 8]
        [--only NAME,...] [--report]

The protocol: ``tenas train ARCH --space darts`` (DARTS' CIFAR recipe: SGD 0.025 cosine, batch 96, cutout 16,
drop-path 0.3, auxiliary head 0.4) at --channels channels (16) and --cells cells (8), for --epochs epochs on the
10,000-image CIFAR-10 training split (``cifar10_train_10k.npz``), tested on the 10,000 CIFAR-10 test images. Every
(architecture, training seed) runs into runs/darts_short/e<epochs>[-c<channels>-l<cells>]/<name>/seed<k>; a
finished one is skipped and an unfinished one resumes from its checkpoint.

Cost on the 2-core CPU (2026-12-06): the protocol (C16 / 8 cells, 10 epochs, training seed 0 for every
architecture first, seed 1 where time allows) was chosen from throughput figures before any accuracy was seen. With
the test pass an epoch then took 277-293 s (``paper-s0``, NCHW, 2 threads), about 8.6 h for the 11 architectures.
Training now keeps tensors channels-last on CPU (1.3-1.9x faster, benchmarks/speed/train_memory_format.py). The
study runs as two one-thread workers over disjoint --only lists: on one fixed batch of ``paper-s0``'s cell they did
86 images/s together against 67 for one two-thread run, but in the real loop (augmentation, test pass) each worker
trains at 30-32 images/s and an epoch takes 380-390 s, about what one two-thread run would need for two epochs
(estimated from the synthetic ratio, not measured):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quality/darts_short_train.py --only paper-s0,official-s0,... &
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quality/darts_short_train.py --only paper-s1,official-s1,...

(every study run: one thread, NHWC; accuracies do not depend on the load, the ``seconds`` column of such runs is
not a speed figure).

The architectures, by group:
- ``tenas paper`` / ``tenas official-protocol``: our DARTS search's cells (seeds 0-1), read from
  runs/darts_pair/<paper|official-protocol>/seed<k>/result.json (benchmarks/quality/darts_search_pair.py);
- ``official code``: the official TE-NAS code's cells, from runs/darts_pair/official/seed<k>/log.txt;
- ``published``: the TE-NAS paper's CIFAR-10 cell (TENAS_CIFAR10) and DARTS-V2;
- ``random``: 3 random cells (:func:`tenas.spaces.genotypes.random_genotype`, seeds 0-2).
A group whose runs have not finished is left out, with a note.

What it can tell: 10 epochs on 10k images rank DARTS cells only roughly (the usual 600-epoch figures differ by
tenths of a percent; short training favours cells that learn fast), and random DARTS cells are known to be strong
(Li & Talwalkar 2019; Yang et al. 2020): read a gap smaller than the training-seed spread as no difference.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT.parent / "shared" / "data" / "cifar"
OUT = ROOT / "runs" / "darts_short"
PAIR = ROOT / "runs" / "darts_pair"
CHANNELS, CELLS = 16, 8


def architectures(search_seeds=(0, 1)) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``[(group, name, genotype text or published name)]`` of every architecture that can be trained now, and
    notes on what is missing."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from quality.darts_search_pair import _official_result, _our_result

    from tenas.spaces.genotypes import random_genotype

    archs, notes = [], []
    for which, group, read in (("paper", "tenas paper", _our_result),
                               ("official-protocol", "tenas official-protocol", _our_result),
                               ("official", "official code", _official_result)):
        for s in search_seeds:
            res = read(PAIR / which / f"seed{s}")
            if res is None:
                notes.append(f"{group} seed {s}: no finished search in {PAIR / which / f'seed{s}'}")
            else:
                archs.append((group, f"{which}-s{s}", res["genotype"]))
    archs += [("published", "TENAS_CIFAR10", "TENAS_CIFAR10"), ("published", "DARTS_V2", "DARTS_V2")]
    archs += [("random", f"random-{k}", repr(random_genotype(k))) for k in range(3)]
    return archs, notes


def _final(out: Path, epochs: int) -> float | None:
    """The last epoch's test accuracy of a finished run, else None."""
    log = out / "log.csv"
    if not log.exists():
        return None
    rows = list(csv.DictReader(open(log)))
    if len(rows) < epochs:
        return None
    return float(rows[epochs - 1]["test_acc"])


def main() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import seeds

    from tenas.cli import main as tenas_main
    from tenas.spaces import darts

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=seeds, default=seeds("0"), help="training seeds (default 0; then 1)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs (default 10, cosine over them)")
    ap.add_argument("--channels", type=int, default=CHANNELS, help=f"initial channels (default {CHANNELS})")
    ap.add_argument("--cells", type=int, default=CELLS, help=f"cells (default {CELLS})")
    ap.add_argument("--only", default=None, help="comma-separated architecture names to run (default: all)")
    ap.add_argument("--report", action="store_true", help="train nothing; report what has finished")
    args = ap.parse_args()
    archs, notes = architectures()
    if args.only:
        keep = {n.strip() for n in args.only.split(",")}
        archs = [a for a in archs if a[1] in keep]
    by_group: dict[str, list[float]] = {}
    print(f"protocol: DARTS CIFAR recipe, C={args.channels}, {args.cells} cells, {args.epochs} epochs, "
          "cifar10_train_10k -> cifar10_test (10,000)")
    # the default size keeps the runs' original folders; another size gets its own
    tag = f"e{args.epochs}" + ("" if (args.channels, args.cells) == (CHANNELS, CELLS)
                               else f"-c{args.channels}-l{args.cells}")
    for group, name, arch in archs:
        net = darts.build_network(arch, C=args.channels, layers=args.cells, auxiliary=False)
        params = darts.count_parameters(net) / 1e6
        accs = []
        for s in args.seeds:
            out = OUT / tag / name / f"seed{s}"
            acc = _final(out, args.epochs)
            if acc is None and not args.report:
                rc = tenas_main(["train", arch, "--space", "darts", "--channels", str(args.channels),
                                 "--cells", str(args.cells),
                                 "--epochs", str(args.epochs), "--data", str(CIFAR / "cifar10_train_10k.npz"),
                                 "--test-data", str(CIFAR / "cifar10_test.npz"), "--seed", str(s), "--out", str(out),
                                 "--quiet"])
                if rc != 0:
                    raise SystemExit(f"tenas train {name} seed {s} failed (rc {rc})")
                acc = _final(out, args.epochs)
            if acc is not None:
                accs.append(acc)
        if accs:
            by_group.setdefault(group, []).append(statistics.mean(accs))
        print(f"{group:>24}  {name:<22} {params:5.3f} M  " + "  ".join(f"{a:6.2f}" for a in accs)
              + (f"   mean {statistics.mean(accs):6.2f}" if accs else "   (not trained)"), flush=True)
    print()
    for group, means in by_group.items():
        sd = statistics.stdev(means) if len(means) > 1 else 0.0
        print(f"{group:>24}: {statistics.mean(means):6.2f} +- {sd:.2f} over {len(means)} architecture(s)")
    for n in notes:
        print(f"note: {n}")


if __name__ == "__main__":
    main()
