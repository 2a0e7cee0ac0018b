"""Tune's overhead a trial: the same N configs by `fit` one after another vs through the sweep at concurrency 2.

Run: .venv/bin/python benchmarks/sweep_overhead.py [--epochs 7] [--storage /tmp/latentsweep-bench]
(a) fit one after another in one process, (b) the sweep at concurrency 2 on 2 CPUs, (c) the same configs in two plain
processes (what two cores give without Ray). Every side trains with one torch thread a trial and writes the same
checkpoints (latents and cheap metrics at best and final epochs). Tune's overhead a trial = 2 x (b - c) / N.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from sweeps import auth
from sweeps.options import RunOptions
from sweeps.run import prepare_storage
from sweeps.settings import make_settings
from sweeps.space import grid_configs
from vaemodels import checkpoint_name, fit, load_dataset, write_epoch_checkpoint


def sequential_wall(configs) -> float:
    """Train every config in this process, one thread, one after another, writing a trial's checkpoints."""
    torch.set_num_threads(1)
    data = load_dataset(configs[0])  # the configs share their data
    started = time.perf_counter()
    for config in configs:
        with tempfile.TemporaryDirectory() as folder:
            writer = partial(_checkpoint, Path(folder))
            fit(config, data, callbacks=[writer], device="cpu")
    return time.perf_counter() - started


def _train_share(configs) -> None:
    """One worker process of the plain parallel baseline."""
    sequential_wall(configs)


def parallel_wall(configs) -> float:
    """The same configs split over two plain processes (no Ray), one thread each: what two cores give here."""
    context = multiprocessing.get_context("spawn")
    halves = [configs[0::2], configs[1::2]]
    started = time.perf_counter()
    with context.Pool(2) as pool:
        pool.map(_train_share, halves)
    return time.perf_counter() - started


def _checkpoint(folder: Path, event) -> None:
    write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)  # latents + cheap metrics included


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
    print(
        f"(a) sequential fit: {len(configs)} trials in {sequential:.1f} s ({sequential / len(configs):.1f} s a trial)"
    )
    parallel = parallel_wall(configs)
    print(f"(c) two plain processes, no Ray: {parallel:.1f} s (two cores give {sequential / parallel:.2f}x here)")

    shutil.rmtree(os.path.join(args.storage, settings.name), ignore_errors=True)
    # DCI runs after the Tune loop and is not Tune's overhead: left out on both sides.
    options = RunOptions(storage=args.storage, max_concurrent=2, cpus_per_trial=1, verbose=0, dci_samples=0)
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
    overhead = 2 * (swept - parallel) / len(configs)  # trial-slot seconds a trial beyond plain processes
    print(f"ray.init: {init_seconds:.1f} s (once a sweep, not counted below)")
    print(
        f"(b) sweep at concurrency 2: {swept:.1f} s; (b)/(a) {swept / sequential:.2f}, (b)/(c) {swept / parallel:.2f}"
    )
    print(f"Tune overhead a trial: {overhead:.2f} s (goal < 1 s)")


if __name__ == "__main__":
    main()
