"""Print how far tenas' kappa_N / NTK and R_N are from the independent brute-force computations in the tests.

The tests assert these agreements (relative error < 1e-4); this script prints the actual figures for every
test model and method: the NTK's largest relative entry error, kappa's relative error, and R_N against
numpy.unique over naively collected patterns and against TE-NAS' Hamming-matrix count.

    .venv/bin/python benchmarks/studies/brute_force_check.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import test_ntk  # noqa: E402  (the brute-force references live in the tests)
import test_regions  # noqa: E402

from tenas.indicators.ntk import ntk_condition_number, ntk_matrix  # noqa: E402
from tenas.indicators.regions import count_linear_regions  # noqa: E402


def main() -> None:
    print("kappa_N / NTK vs brute force (per-sample autograd loop + numpy eigvalsh), float64 models")
    print(f"  {'model':16s} {'method':8s} {'max |dK|/max|K|':>16s} {'kappa (ours)':>16s} {'kappa rel. err':>15s}")
    for name in sorted(test_ntk.CASES):
        model, x = test_ntk.make(name)
        ref = test_ntk.brute_force_ntk(model, x)
        ref_kappa = test_ntk.brute_force_kappa(model, x)
        for method in ("loop", "batched", "threads"):
            got = ntk_matrix(model, x, method=method).numpy()
            kappa = ntk_condition_number(model, x, method=method)
            err = np.abs(got - ref).max() / np.abs(ref).max()
            print(f"  {name:16s} {method:8s} {err:16.2e} {kappa:16.8g} {abs(kappa - ref_kappa) / ref_kappa:15.2e}")
    for name in ("mlp", "cnn_bn"):
        model, x = test_ntk.make(name)
        x = x[:2] if name == "mlp" else x[:4]
        ref = test_ntk.brute_force_ntk(model, x, full=True)
        got = ntk_matrix(model, x, kernel="full").numpy()
        k, rk = ntk_condition_number(model, x, kernel="full"), test_ntk.brute_force_kappa(model, x, full=True)
        print(f"  {name + ' (full)':16s} {'auto':8s} {np.abs(got - ref).max() / np.abs(ref).max():16.2e} "
              f"{k:16.8g} {abs(k - rk) / rk:15.2e}")
    for name in ("cnn_bn", "nb201_supernet"):
        model, x = test_ntk.make(name, dtype=torch.float32)
        k, rk = ntk_condition_number(model, x), test_ntk.brute_force_kappa(model, x)
        print(f"  {name + ' (fp32)':16s} {'auto':8s} {'':16s} {k:16.8g} {abs(k - rk) / rk:15.2e}")

    print("\nR_N vs numpy.unique over naively collected patterns and TE-NAS' Hamming-matrix count")
    for name, build, shape in (("thin NB201", test_regions.thin, (3000, 1, 3, 3)),
                               ("cnn_bn", test_regions.cnn_bn, (1000, 1, 3, 3)),
                               ("mlp", test_regions.mlp, (2000, 2))):
        model = build()
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        ours = count_linear_regions(model, x, batch_size=1000)
        naive = test_regions.naive_count(model, x, batch_size=1000)
        ham = test_regions.hamming_count(test_regions.naive_patterns(model, x, batch_size=1000))
        print(f"  {name:12s} n={shape[0]:5d}: ours {ours:5d}  numpy.unique {naive:5d}  Hamming {ham:5d}  "
              f"equal: {ours == naive == ham}")


if __name__ == "__main__":
    main()
