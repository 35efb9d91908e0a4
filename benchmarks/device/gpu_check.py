"""The checks that need a GPU, as one short script for a lent accelerator machine (one call, ~8 minutes).

1. DARTS CIFAR evaluation network (20 cells, 36 channels, auxiliary head): training throughput on CUDA,
   float32 vs AMP (``benchmarks/speed/bench_train.py --device cuda``), images/s and peak memory.
2. kappa_N of the NB201 search supernet (C=3, N=1) on 72 CIFAR-10 images on CUDA vs the CPU of that machine.
3. TE-NAS search quality on CUDA: ``tenas search --device cuda`` for several seeds on CIFAR-10 and CIFAR-100
   (10k-image train splits), several searches at a time (each one process, 2 CPU threads); stops launching
   after ``--budget`` seconds and reports what finished. Results go to ``OUT/quality.json``.

    PYTHONPATH=src python3 benchmarks/device/gpu_check.py --data DIR_WITH_NPZ --out "$OUT" [--budget 420] [--jobs 8]

Everything printed also goes to ``OUT/gpu_check.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = {"cifar10": "cifar10_test", "cifar100": "cifar100_test"}


def _run(cmd: list, env: dict, timeout: float) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        return f"timed out after {timeout} s; output so far:\n{err.stdout or ''}"
    return proc.stdout + proc.stderr[-3000:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with cifar10_train_10k.npz and cifar100_train_10k.npz")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for the whole script")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=10, help="seeds first-seed .. seeds-1")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--train-steps", type=int, default=200)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: train,ntk,quality")
    ap.add_argument("--device", default="cuda", help="device of the searches (cpu only to try this script out)")
    ap.add_argument("--search-args", default="", help="more `tenas search` arguments, space-separated")
    ap.add_argument("--variant", action="append", default=[], metavar="TAG:ARGS",
                    help="after the faithful searches, the same seeds with these extra search arguments")
    args = ap.parse_args()
    t_start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "gpu_check.log", "a")
    skip = set(filter(None, args.skip.split(",")))

    def say(text: str) -> None:
        print(text, flush=True)
        log.write(text + "\n")
        log.flush()

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2")
    search_env = dict(env, OMP_NUM_THREADS="1")
    data = Path(args.data)
    try:
        say(subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.strip())
    except FileNotFoundError:
        say("no nvidia-smi here")

    if "train" not in skip:
        say("== 1. DARTS 20-cell network, training throughput on CUDA ==")
        say(_run([sys.executable, str(ROOT / "benchmarks" / "speed" / "bench_train.py"), "--device", "cuda",
                  "--steps", str(args.train_steps), "--warmup", "10", "--data", str(data / "cifar10_train_10k.npz")],
                 env, 150))

    if "ntk" not in skip:
        say("== 2. kappa_N of the NB201 supernet, 72 CIFAR-10 images: CUDA vs this machine's CPU ==")
        code = f"""
import time, numpy as np, torch
from tenas.indicators.init import kaiming_init_
from tenas.indicators.ntk import ntk_condition_number
from tenas.spaces.nb201 import supernet
x = torch.from_numpy(np.load({str(data / 'cifar10_train_10k.npz')!r})['x'][:72]).permute(0, 3, 1, 2).float() / 255
for dev in ('cuda', 'cpu'):
    net = supernet()
    kaiming_init_(net, mode='fan_out', generator=torch.Generator().manual_seed(0))
    net, xd = net.to(dev), x.to(dev)
    ntk_condition_number(net, xd)
    ts = []
    for _ in range(3):
        if dev == 'cuda': torch.cuda.synchronize()
        t = time.perf_counter(); v = ntk_condition_number(net, xd); ts.append(time.perf_counter() - t)
    print(f'{{dev}}: best {{min(ts):.3f}} s per kappa (torch threads {{torch.get_num_threads()}}), kappa {{v:.6f}}')
"""
        say(_run([sys.executable, "-c", code], env, 90))

    if "quality" not in skip:
        say(f"== 3. TE-NAS search on CUDA, {args.seeds} seeds x 2 datasets, {args.jobs} at a time ==")
        variants = [("faithful", [])] + [(v.split(":", 1)[0], v.split(":", 1)[1].split()) for v in args.variant]
        queue = [(tag, ds, s) for tag, _ in variants for s in range(args.first_seed, args.seeds) for ds in ("cifar10", "cifar100")]
        extra = dict(variants)
        running: dict = {}
        results: list = []
        runs = Path("/tmp/tenas_quality")
        deadline = t_start + args.budget
        while queue or running:
            while queue and len(running) < args.jobs and time.time() < deadline - 60:
                tag, ds, s = queue.pop(0)
                run_dir = runs / tag / ds / f"seed{s}"
                cmd = [sys.executable, "-m", "tenas.cli", "search", "--space", "nb201", "--dataset", ds,
                       "--data", str(data / f"{ds}_train_10k.npz"), "--seed", str(s), "--out", str(run_dir),
                       "--device", args.device, "--quiet", *args.search_args.split(), *extra[tag]]
                running[(tag, ds, s)] = (subprocess.Popen(cmd, env=search_env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True), time.time())
            for key, (p, t0) in list(running.items()):
                if p.poll() is None:
                    if time.time() > deadline:
                        p.kill()
                        say(f"  {key}: killed at the deadline after {time.time() - t0:.0f} s")
                        running.pop(key)
                    continue
                running.pop(key)
                text = p.stdout.read()
                res_file = runs / key[0] / key[1] / f"seed{key[2]}" / "result.json"
                if p.returncode != 0 or not res_file.exists():
                    say(f"  {key}: failed (rc {p.returncode}):\n{text[-2000:]}")
                    continue
                r = json.loads(res_file.read_text())
                acc = r["benchmark"][KEY[key[1]]]
                results.append({"tag": key[0], "dataset": key[1], "seed": key[2], "arch": r["arch"], "accuracy": acc,
                                "seconds": r["seconds"], "timing": r.get("timing"), "benchmark": r["benchmark"],
                                "rounds": [{k: v for k, v in rd.items() if k in ("supernet_kappa", "supernet_regions", "pruned")}
                                           for rd in r.get("rounds", [])]})
                say(f"  {key[0]} {key[1]:8s} seed {key[2]}: {acc:6.2f}  {r['seconds']:6.1f} s  {r['arch']}")
            time.sleep(0.5)
            if not queue and not running:
                break
            if time.time() > deadline + 5:
                break
        import statistics

        for tag, _ in variants:
            for ds in ("cifar10", "cifar100"):
                mine = [r for r in results if r["dataset"] == ds and r["tag"] == tag]
                if mine:
                    accs = [r["accuracy"] for r in mine]
                    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
                    say(f"{tag} {ds}: {statistics.mean(accs):.2f} ± {sd:.2f} over {len(accs)} seeds "
                        f"({sorted(r['seed'] for r in mine)}); mean {statistics.mean(r['seconds'] for r in mine):.0f} s")
        (out / "quality.json").write_text(json.dumps(results, indent=1))
    say(f"total {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
