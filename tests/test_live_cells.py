"""Cells without a dead op (``has_dead_op``) and ``tenas correlate --live-only``: checked against a brute force
over the cell's four input-to-output paths."""

from __future__ import annotations

import csv
import json

from tenas.correlate.run import sample_cells
from tenas.spaces.nb201 import NUM_CELLS, has_dead_op, to_cell

#: the four input-to-output paths of the NB201 cell DAG, as edge positions in the cell string
#: (edges: 0: 0->1, 1: 0->2, 2: 1->2, 3: 0->3, 4: 1->3, 5: 2->3)
PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))


def brute_force_dead(cell: tuple[str, ...]) -> bool:
    live = {e for path in PATHS if all(cell[e] != "none" for e in path) for e in path}
    return any(op != "none" and e not in live for e, op in enumerate(cell))


def test_has_dead_op_by_hand():
    assert not has_dead_op("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    assert not has_dead_op("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # the skip alone
    assert not has_dead_op("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")  # no op at all
    # the 0->1 conv feeds node 1, which feeds nothing
    assert has_dead_op("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    # node 2 gets no input, so its 2->3 conv carries nothing
    assert has_dead_op("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    assert not has_dead_op("|skip_connect~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_3x3~2|")  # 0->1->2->3


def test_has_dead_op_equals_the_path_brute_force_on_every_cell():
    dead = [has_dead_op(i) for i in range(NUM_CELLS)]
    assert dead == [brute_force_dead(to_cell(i)) for i in range(NUM_CELLS)]
    assert NUM_CELLS - sum(dead) == 9445


def test_live_sample_is_a_filtered_prefix():
    a = sample_cells(300, 0, live_only=True)
    assert len(a) == 300 and not any(has_dead_op(c) for c in a)
    assert set(a) <= set(sample_cells(600, 0, live_only=True))
    assert a == sample_cells(300, 0, live_only=True) and a != sample_cells(300, 1, live_only=True)
    # the live cells of the plain draw come first in the live draw's order
    plain = sample_cells(1000, 0)
    assert set(c for c in plain if not has_dead_op(c)) <= set(sample_cells(1000, 0, live_only=True))
    assert len(sample_cells(None, 0, live_only=True)) == 9445


def test_cli_correlate_live_only(tmp_path, capsys):
    from tenas.cli import main

    out = tmp_path / "live"
    assert main(["correlate", "--sample", "6", "--seed", "2", "--live-only", "--proxies", "params,flops",
                 "--out", str(out), "--workers", "1", "--quiet", "--no-plots"]) == 0
    assert "6 cells without a dead op" in capsys.readouterr().out
    info = json.loads((out / "correlations.json").read_text())
    assert info["live_only"] is True and info["cells"] == sample_cells(6, 2, live_only=True)
    with open(out / "scores.csv") as f:
        assert [int(r["index"]) for r in csv.DictReader(f)] == info["cells"]
