"""Training throughput of the DARTS CIFAR evaluation network (20 cells, 36 channels, auxiliary head).

Times ``Trainer.train_step`` -- the step ``tenas train`` runs: forward with the auxiliary head and
drop-path, loss, backward, gradient clipping, SGD, lr schedule -- on real augmented CIFAR-10 batches
(crop, flip, cutout 16) at the DARTS batch size 96, after warm-up steps. Prints images/s and peak
memory (CPU: the process' peak resident set; CUDA: peak allocated by torch).

On CUDA it times float32 (baseline) and mixed precision (autocast float16 + GradScaler, what
``tenas train --device cuda`` uses) and prints the ratio. On CPU there is one configuration (float32).

    nice -n 10 python benchmarks/speed/bench_train.py                       # CPU, 2 timed steps
    python benchmarks/speed/bench_train.py --device cuda --steps 20         # GPU: fp32 vs AMP
    python benchmarks/speed/bench_train.py --genotype DARTS_V1 --threads 1
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_config(args, amp: bool) -> dict:
    import torch

    from tenas.data import iterate_batches, load_dataset
    from tenas.spaces import darts
    from tenas.train import PROTOCOLS, Trainer

    protocol = PROTOCOLS["darts-cifar"].with_overrides(batch_size=args.batch_size)
    data = load_dataset("cifar10", args.data, "train")
    torch.manual_seed(0)
    model = darts.build_network(args.genotype, C=args.channels, layers=args.cells)
    params = darts.count_parameters(model)
    trainer = Trainer(model, protocol, data, None, tempfile.mkdtemp(), device=args.device, amp=amp, progress=False)
    model.train()
    model.drop_path_prob = 0.15  # mid-training value of the DARTS schedule
    gen = torch.Generator().manual_seed(0)
    batches = iterate_batches(data, args.batch_size, gen, shuffle=True, augment=True, cutout=protocol.cutout,
                              drop_last=True)
    cuda = trainer.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        x, y = next(batches)
        trainer.train_step(x, y)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iterate_batches(data, args.batch_size, gen, shuffle=True, augment=True,
                                      cutout=protocol.cutout, drop_last=True)
            x, y = next(batches)
        t0 = time.perf_counter()
        loss, _ = trainer.train_step(x, y)
        float(loss)  # wait for the step
        sync()
        times.append(time.perf_counter() - t0)
    seconds = sum(times)
    return {
        "params": params,
        "images_per_s": args.steps * args.batch_size / seconds,
        "step_s": seconds / args.steps,
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mib(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--genotype", default="DARTS_V2", help="genotype text or name (default DARTS_V2)")
    ap.add_argument("--channels", type=int, default=36)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=96)
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 2 on CPU, 20 on CUDA)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 1 on CPU, 5 on CUDA)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--data", default=None, help="CIFAR-10 folder or .npz (default: the embedded sample)")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    args.steps = args.steps or (20 if cuda else 2)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    if cuda:
        torch.backends.cudnn.benchmark = True
    where = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads"
    load = os.getloadavg()
    print(f"DARTS {args.genotype if len(args.genotype) < 30 else 'genotype'}: {args.cells} cells, "
          f"{args.channels} channels, batch {args.batch_size}; {args.warmup} warm-up + {args.steps} timed steps; "
          f"{where}; torch {torch.__version__}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    configs = [("float32", False)] + ([("AMP float16", True)] if cuda else [])
    results = {}
    for name, amp in configs:
        r = run_config(args, amp)
        results[name] = r
        print(f"{name:12s} {r['images_per_s']:9.1f} images/s  ({r['step_s']:.3f} s/step)  "
              f"peak {'GPU allocated' if cuda else 'RSS'} {r['peak_mib']:.0f} MiB  "
              f"[{r['params'] / 1e6:.3f} M params]")
    if len(results) == 2:
        base, ours = results["float32"], results["AMP float16"]
        print(f"AMP / float32: {ours['images_per_s'] / base['images_per_s']:.2f}x images/s, "
              f"{ours['peak_mib'] / base['peak_mib']:.2f}x peak memory")


if __name__ == "__main__":
    main()
