"""Tune's overhead a trial: the same N configs by `fit` one after another vs through the sweep at concurrency 2.

Run: .venv/bin/python benchmarks/sweep_overhead.py [--epochs 7] [--storage /tmp/latentsweep-bench]
Both sides train with one torch thread a trial; the sweep runs two trials at once on two CPUs, so its ideal
wall is half the sequential one. Overhead a trial = (2 x sweep wall - sequential wall) / N, in trial-slot seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import torch

from sweeps import auth
from sweeps.run import RunOptions, prepare_storage
from sweeps.settings import make_settings
from sweeps.space import grid_configs
from vaemodels.datasets import load_dataset
from vaemodels.training import fit


def sequential_wall(configs) -> float:
    """Train every config in this process, one thread, one after another."""
    torch.set_num_threads(1)
    data = load_dataset(configs[0])  # the configs share their data
    started = time.perf_counter()
    for config in configs:
        fit(config, data, device="cpu")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=7, help="7 epochs of mnist_5k is about 20 s a trial here")
    parser.add_argument("--storage", default=os.path.join(tempfile.gettempdir(), "latentsweep-bench"))
    args = parser.parse_args()
    fixed = {"dataset": "mnist_5k", "epochs": args.epochs, "embed_samples": 1000}
    overrides = {"name": "overhead", "archs": ("vae",), "betas": (1.0, 2.0, 4.0, 8.0), "latent_dims": (4, 8)}
    settings = make_settings("quick", overrides, fixed)
    configs = grid_configs(settings)
    sequential = sequential_wall(configs)
    print(f"sequential fit: {len(configs)} trials in {sequential:.1f} s ({sequential / len(configs):.1f} s a trial)")

    shutil.rmtree(os.path.join(args.storage, settings.name), ignore_errors=True)
    options = RunOptions(storage=args.storage, max_concurrent=2, cpus_per_trial=1, verbose=0)
    sweep = prepare_storage(settings, options)
    auth.ensure_auth_env()
    import ray

    from sweeps.tuner import run_sweep

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - started
    started = time.perf_counter()
    run_sweep(settings, options, sweep)
    swept = time.perf_counter() - started
    ray.shutdown()
    overhead = (2 * swept - sequential) / len(configs)
    print(f"ray.init: {init_seconds:.1f} s (once a sweep)")
    ideal = sequential / 2
    print(f"sweep at concurrency 2: {swept:.1f} s; ideal {ideal:.1f} s; ratio to ideal {swept / ideal:.2f}")
    print(f"Tune overhead a trial: {overhead:.2f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
