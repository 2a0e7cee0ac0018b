"""Trials a minute when K processes share one GPU, each running `fit()`: what `--gpus-per-trial 1/K` does on a node.

No Ray (GPU machines may lack it): K spawned processes, each a trial of the same small VAE on one device, started
together once each has loaded its data and warmed up. Goal: K=4 gives at least 2.5x the trials a minute of K=1.
Run:
    python benchmarks/gpu_pack.py                        # K = 1, 2, 4, 8 on cuda
    python benchmarks/gpu_pack.py --device cpu --quick   # a slow smoke test on CPU
The last line is the headline: trials a minute at K=4 (or the largest K run) over K=1.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch

from vaemodels import TrialConfig, fit, load_dataset

GOAL = 2.5  # K=4 over K=1, trials a minute


def trial_config(args: argparse.Namespace, epochs: int) -> TrialConfig:
    """The small VAE every process trains (a sweep trial's config, without Ray)."""
    return TrialConfig.from_dict(
        {
            "arch": args.arch,
            "dataset": "shapes",
            "image_size": args.image_size,
            "n_samples": args.n_samples,
            "latent_dim": args.latent_dim,
            "batch_size": args.batch_size,
            "epochs": epochs,
        }
    )


def run_trials(rank: int, args: argparse.Namespace, threads: int, start: mp.Barrier, results: mp.Queue) -> None:
    """One process: load data, warm up (CUDA context, kernels), wait for the others, then time `args.trials` fits."""
    torch.set_num_threads(threads)  # oversubscribed CPU threads were measured 12-19x slower
    config = trial_config(args, args.epochs).replace(seed=rank)
    data = load_dataset(config).to(args.device)  # one tensor on the device, as a sweep trial holds it
    fit(trial_config(args, 1).replace(seed=rank), data, device=args.device)
    _synchronize(args.device)
    start.wait()
    began = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of this machine
    images_per_second = []
    for trial in range(args.trials):
        state = fit(config.replace(seed=rank + 1000 * trial), data, device=args.device)
        images_per_second += [h["samples_per_second"] for h in state.history]
    _synchronize(args.device)
    results.put((rank, began, time.monotonic(), statistics.mean(images_per_second)))


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(args: argparse.Namespace, processes: int) -> dict[str, float]:
    """Trials a minute and training images/s a process with `processes` trials on the device at once."""
    context = mp.get_context("spawn")  # CUDA cannot be forked
    start, results = context.Barrier(processes), context.Queue()
    threads = max(1, (os.cpu_count() or 1) // processes)
    workers = [
        context.Process(target=run_trials, args=(rank, args, threads, start, results)) for rank in range(processes)
    ]
    for worker in workers:
        worker.start()
    finished = [results.get(timeout=args.timeout) for _ in workers]
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise RuntimeError(f"a trial process exited with {worker.exitcode}")
    seconds = max(end for _, _, end, _ in finished) - min(began for _, began, _, _ in finished)
    return {
        "trials_per_minute": processes * args.trials * 60 / seconds,
        "images_per_second": statistics.mean(rate for *_, rate in finished),
        "seconds": seconds,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags; --quick shrinks everything to a smoke test."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--processes", default="1,2,4,8", help="values of K, comma-separated")
    parser.add_argument("--quick", action="store_true", help="tiny data, K = 1, 2: a smoke test (CPU)")
    parser.add_argument("--arch", default="vae")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--trials", type=int, default=1, help="trials each process runs one after another")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for one K")
    args = parser.parse_args(argv)
    if args.quick:
        args.processes, args.image_size, args.n_samples, args.epochs = "1,2", 32, 1_000, 1
    args.processes = [int(k) for k in args.processes.split(",") if k]
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here; use --device cpu")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    on_cuda = args.device.startswith("cuda")
    where = torch.cuda.get_device_name(args.device) if on_cuda else f"cpu ({os.cpu_count()} cores)"
    print(f"{args.arch} on shapes {args.image_size}x{args.image_size}, {args.n_samples} samples, {args.epochs} epochs, "
          f"batch {args.batch_size}; device {where}; torch {torch.__version__}")  # fmt: skip
    print(f"{'K':>3} {'trials/min':>11} {'vs K=1':>7} {'images/s a process':>19} {'images/s all':>13} {'seconds':>8}")
    rates = {}
    for processes in args.processes:
        result = measure(args, processes)
        rates[processes] = result["trials_per_minute"]
        baseline = rates.get(1, rates[args.processes[0]])
        print(
            f"{processes:>3} {result['trials_per_minute']:>11.1f} {result['trials_per_minute'] / baseline:>6.2f}x "
            f"{result['images_per_second']:>19,.0f} {result['images_per_second'] * processes:>13,.0f} "
            f"{result['seconds']:>8.1f}",
            flush=True,
        )
    packed = 4 if 4 in rates else max(rates)
    ratio = rates[packed] / rates.get(1, rates[args.processes[0]])
    print(f"K={packed} over K=1, trials a minute on {args.device}: {ratio:.2f}x (goal at K=4: >= {GOAL}x)")


if __name__ == "__main__":
    main()
