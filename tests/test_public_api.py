"""The top-level API resolves to the real implementations and stays small."""

import subprocess
import sys

import tenas


def test_public_names_resolve():
    from tenas.indicators.ntk import ntk_condition_number
    from tenas.indicators.regions import count_linear_regions

    assert tenas.ntk_condition_number is ntk_condition_number
    assert tenas.count_linear_regions is count_linear_regions
    for name in tenas.__all__:
        assert getattr(tenas, name) is not None


def test_import_is_cheap_and_help_lists_subcommands():
    code = "import sys, tenas; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    out = subprocess.run([sys.executable, "-m", "tenas", "--help"], capture_output=True, text=True).stdout
    for cmd in ("search", "bench", "score", "correlate", "train"):
        assert cmd in out
