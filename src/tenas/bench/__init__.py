"""Benchmark answers: the NAS-Bench-201 accuracy table shipped inside the package."""
