"""A results folder made by a real tiny sweep (`latentsweep sweep`, Ray Tune in a subprocess), and reading it back.

The `sweep_results` fixture (tests/conftest.py) runs it once a test session; tests that damage or extend it work
on a copy (`copy_results`, or the `results_copy` fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

SWEEP_NAME = "sweepA"
ARCHS = ("vae", "conditional", "branched")
BETAS = (1.0, 8.0)
LATENT_DIM = 4
N_TRIALS = len(ARCHS) * len(BETAS)  # a grid: one trial a configuration
VALIDATION_SAMPLES = 120  # a fifth of --n-samples 600; every one is encoded into latents.parquet
REPO = Path(__file__).resolve().parents[2]
SWEEP_SECONDS = 600


def sweep_command(storage: Path, name: str = SWEEP_NAME) -> list[str]:
    """The sweep CLI call: every architecture at two betas, 32x32 shapes, 2 epochs, DCI on 500 samples."""
    return [
        sys.executable, "-m", "vaemodels.cli", "sweep",
        "--archs", ",".join(ARCHS), "--betas", ",".join(f"{b:g}" for b in BETAS), "--latent-dims", str(LATENT_DIM),
        "--dataset", "shapes", "--image-size", "32", "--n-samples", "600", "--epochs", "2", "--dci-samples", "500",
        "--storage", str(storage), "--name", name, "--max-concurrent", "2",
    ]  # fmt: skip


def run_sweep(storage: Path, name: str = SWEEP_NAME) -> Path:
    """Run the real sweep CLI in a subprocess (a fresh local Ray: RAY_ADDRESS empty); returns the sweep folder."""
    env = {**os.environ, "RAY_ADDRESS": ""}  # the Ray auth settings of tests/conftest.py are inherited
    done = subprocess.run(
        sweep_command(storage, name), cwd=REPO, env=env, capture_output=True, text=True, timeout=SWEEP_SECONDS
    )
    sweep = storage / name
    if done.returncode != 0 or not (sweep / "trials.parquet").exists():
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        raise RuntimeError(f"the sweep CLI failed (exit {done.returncode}) in {storage}:\n{output}")
    return sweep


def trials_table(results: Path, name: str = SWEEP_NAME) -> pd.DataFrame:
    """The sweep's trials.parquet as the sweep wrote it."""
    return pd.read_parquet(results / name / "trials.parquet")


def find_trial(results: Path, arch: str, beta: float, name: str = SWEEP_NAME) -> str:
    """Tune's id of the trial with this architecture and beta."""
    table = trials_table(results, name)
    ids = table.loc[(table["arch"] == arch) & (table["beta"] == beta), "trial_id"].tolist()
    if len(ids) != 1:
        raise LookupError(f"{results / name}/trials.parquet has {len(ids)} trials with arch={arch}, beta={beta}")
    return str(ids[0])


def copy_results(source: Path, target: Path) -> Path:
    """A private copy of a results folder, for tests that damage or extend it."""
    shutil.copytree(source, target, symlinks=True)
    return target
