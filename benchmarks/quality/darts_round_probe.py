"""Why do the DARTS searches' op statistics differ? One pruning round, the same starting mask, both procedures.

    .venv/bin/python benchmarks/quality/darts_round_probe.py --start official:0 --by official --seed 0
    .venv/bin/python benchmarks/quality/darts_round_probe.py --start official:0 --by official-protocol --seed 0
    .venv/bin/python benchmarks/quality/darts_round_probe.py --report

On seed 0 of ``darts_search_pair.py`` our searches pruned every ``dil_conv_5x5`` still alive in round 2 (its
removal lowers kappa_N), while the official code's round 2 pruned them at the overall rate (seed 1 did not repeat
the pattern). The round-2 masks differed (each search's own round 1), so this measures round 2 again from ONE
mask, by both procedures:

* ``--start official:S`` -- the official search of seed S after round 1 (its ``arch_parameters_history.npy``);
  ``--start official-protocol:S`` / ``paper:S`` -- ours after round 1 (``result.json``'s second ``alive_before``);
  ``:R`` appended takes the mask after round R instead (default 1);
* ``--by official`` -- the official ``prune_func_rank`` on that mask (``_official_darts_round.py``: a wrapper that
  starts the official code from given alphas, marked as such; about 25 min per round-2 run on 2 cores);
  ``--by official-protocol`` / ``paper`` -- our round on it (``--protocol official`` / the default), the same
  settings as ``tenas search --space darts`` (a few minutes);
* ``--seed``: the official run's ``--rand_seed`` / our search seed (different random draws, not the same weights).

Each run writes ``runs/darts_probe/<start>-by-<by>-s<seed>.json`` (one row per candidate: cell type, edge, op, mean
relative change of kappa_N and of R_N over the 3 repeats, pruned or not; positive d_kappa: removing the op lowers
kappa). ``--report`` prints, per file and op type: candidates, median d_kappa, median d_regions, share pruned; and
for two files from the same start, the per-candidate Spearman rho of d_kappa and of d_regions and the pruned sets' overlap.
If the same mask gives the same per-op pattern under both procedures, the difference came from round 1's outcome
(noise); if not, the procedures differ and the per-candidate records say where.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from quality.darts_search_pair import OFFICIAL_OPS  # noqa: E402  (the official alphas' columns)

SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "cifar" / "cifar10_train_10k.npz"
PAIR = ROOT / "runs" / "darts_pair"
OUT = ROOT / "runs" / "darts_probe"
PEER = SHARED / "peer"
INF = 1000.0  # prune_tenas.py: a pruned op's alpha is -INF
BY = ("official", "official-protocol", "paper")


def _ours_to_official(alive: np.ndarray) -> np.ndarray:
    from tenas.spaces.darts import OP_NAMES

    alphas = np.full((2, alive.shape[1], len(OFFICIAL_OPS)), -INF, np.float32)
    for k, name in enumerate(OFFICIAL_OPS):
        alphas[..., k] = np.where(alive[..., OP_NAMES.index(name)], 0.0, -INF)
    return alphas


def _official_to_ours(alphas: np.ndarray) -> np.ndarray:
    from tenas.spaces.darts import OP_NAMES

    alphas = np.asarray(alphas)
    alive = np.zeros((2, alphas.shape[1], len(OP_NAMES)), bool)
    for k, name in enumerate(OFFICIAL_OPS):
        if name != "none":
            alive[..., OP_NAMES.index(name)] = alphas[..., k] > -INF / 2
    return alive


def start_mask(spec: str) -> np.ndarray:
    """The alive mask (ours: cell type x edge x op in our op order) that ``--start`` names."""
    which, _, rest = spec.partition(":")
    seed, _, rnd = rest.partition(":")
    rnd = int(rnd or 1)
    out = PAIR / which / f"seed{int(seed)}"
    if which == "official":
        found = sorted(out.rglob("arch_parameters_history.npy"))
        if not found:
            raise SystemExit(f"no official run in {out} (darts_search_pair.py --which official --seeds {seed})")
        history = np.load(found[0])
        if rnd >= len(history):
            raise SystemExit(f"{found[0]} holds {len(history) - 1} rounds, not {rnd}")
        return _official_to_ours(history[rnd])
    if which in ("official-protocol", "paper"):
        path = out / "result.json"
        if not path.exists():
            raise SystemExit(f"no finished search in {out} (darts_search_pair.py --which {which} --seeds {seed})")
        rounds = json.loads(path.read_text())["rounds"]
        if rnd >= len(rounds):
            raise SystemExit(f"{path} holds {len(rounds)} rounds; there is no mask after round {rnd} to start from")
        return np.asarray(rounds[rnd]["alive_before"], bool)
    raise SystemExit(f"--start {spec!r}: expected official:S, official-protocol:S or paper:S (then :ROUND)")


def by_official(alive: np.ndarray, seed: int) -> list[dict]:
    """The official ``prune_func_rank`` from ``alive`` (through ``_official_darts_round.py``, the peer's venv)."""
    from tenas.spaces.darts import CELL_TYPES

    py = os.environ.get("PEER_PY") or str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                                          / "tenas-official-venv" / "bin" / "python")
    if not Path(py).exists():
        raise SystemExit(f"no Python for the official code at {py}: run ../shared/peer/run_official.sh once "
                         "(it creates that venv) or set PEER_PY")
    env = {**os.environ, "PYTHONPATH": str(PEER / "stubs"), "PEER_DEVICE": "cpu",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
           "MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}  # as run_official.sh
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "alphas.npy", _ours_to_official(alive))
        rc = subprocess.call([py, str(Path(__file__).with_name("_official_darts_round.py")), str(Path(tmp) / "alphas.npy"),
                              str(seed), str(DATA.parent), str(Path(tmp) / "out.json")], cwd=PEER / "tenas-official",
                             env=env)
        if rc != 0:
            raise SystemExit(f"the official round failed (rc {rc})")
        res = json.loads((Path(tmp) / "out.json").read_text())
    return [{"cell_type": CELL_TYPES[r["cell"]], "edge": r["edge"], "op": r["op"], "d_kappa": r["d_kappa"],
             "d_regions": r["d_regions"], "pruned": r["pruned"]} for r in res["candidates"]]


class _OneRound(Exception):
    pass


def by_ours(alive: np.ndarray, seed: int, protocol: str) -> list[dict]:
    """Our round from ``alive`` (the round after one finished round: round index 1), ``tenas search``'s settings."""
    from dataclasses import asdict

    from tenas.data import load_dataset
    from tenas.parallel.backends import make_pool
    from tenas.search.prune import SearchConfig, SearchState, run_search
    from tenas.spaces import get_space, space_spec

    space = get_space("darts")
    config = SearchConfig(space=space_spec(space), dataset="cifar10", seed=seed, protocol=protocol,
                          batch_size=space.defaults.batch_for("cifar10"), prune_number=space.defaults.prune_for("cifar10"),
                          num_classes=10)
    placeholder = {"label": "round 1 (the start mask's)", "kind": "prune"}
    state = SearchState(config=asdict(config), alive=alive.astype(int).tolist(), rounds=[placeholder])

    def stop(_state):
        raise _OneRound

    with make_pool("local", 1) as pool:
        try:
            run_search(space, load_dataset("cifar10", str(DATA), split="train"), config, pool, state=state, on_round=stop)
        except _OneRound:
            pass
    (record,) = state.rounds[1:]
    return [{k: c[k] for k in ("cell_type", "edge", "op", "d_kappa", "d_regions", "pruned")} for c in record["candidates"]]


def report() -> None:
    from tenas.spaces.genotypes import CELL_OPS

    files = sorted(OUT.glob("*.json"))
    if not files:
        print(f"nothing in {OUT} yet")
    for path in files:
        rows = json.loads(path.read_text())["candidates"]
        print(f"{path.stem}: {len(rows)} candidates, {sum(r['pruned'] for r in rows)} pruned")
        print(f"  {'op':>14} {'n':>3} {'med d_kappa':>12} {'med d_regions':>14} {'pruned':>7}")
        for op in CELL_OPS:
            sel = [r for r in rows if r["op"] == op]
            if sel:
                print(f"  {op:>14} {len(sel):>3} {np.median([r['d_kappa'] for r in sel]):>+12.4f} "
                      f"{np.median([r['d_regions'] for r in sel]):>+14.4f} "
                      f"{np.mean([r['pruned'] for r in sel]):>7.0%}")
    _compare(files)


def _compare(files: list[Path]) -> None:
    """Runs from the same start mask, side by side: per-candidate rank agreement and the overlap of the pruned sets."""
    from operator import itemgetter

    from scipy.stats import spearmanr

    key = itemgetter("cell_type", "edge", "op")
    runs = {path.stem: json.loads(path.read_text()) for path in files}
    names = sorted(runs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if runs[a]["start"] != runs[b]["start"]:
                continue
            ra, rb = ({key(r): r for r in runs[n]["candidates"]} for n in (a, b))
            common = sorted(set(ra) & set(rb))
            if not common:
                continue
            rho = {m: spearmanr([ra[c][m] for c in common], [rb[c][m] for c in common])[0] for m in ("d_kappa", "d_regions")}
            pa, pb = ({c for c in common if r[c]["pruned"]} for r in (ra, rb))
            print(f"{a}  vs  {b}: {len(common)} common candidates; Spearman rho d_kappa {rho['d_kappa']:+.2f}, "
                  f"d_regions {rho['d_regions']:+.2f}; pruned by both {len(pa & pb)}, by one only {len(pa ^ pb)}, "
                  f"by neither {len(common) - len(pa | pb)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--start", help="official:S, official-protocol:S or paper:S, optionally :ROUND (default 1)")
    ap.add_argument("--by", choices=BY)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", action="store_true", help="run nothing; summarise runs/darts_probe/")
    args = ap.parse_args()
    if args.report:
        return report()
    if not (args.start and args.by):
        ap.error("--start and --by are needed (or --report)")
    alive = start_mask(args.start)
    rows = by_official(alive, args.seed) if args.by == "official" else by_ours(alive, args.seed, args.by.removesuffix("-protocol"))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.start.replace(':', '-s', 1).replace(':', '-r')}-by-{args.by}-s{args.seed}.json"
    path.write_text(json.dumps({"start": args.start, "by": args.by, "seed": args.seed,
                                "alive": alive.astype(int).tolist(), "candidates": rows}))
    print(f"wrote {path}")
    report()


if __name__ == "__main__":
    main()
