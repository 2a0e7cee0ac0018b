"""A tiny real sweep folder (CONTRACT.md layout, trials.parquet included) for the explorer tests and benchmark.

Import the fixture into a test module: `from tests.explorer_fixtures import sweep_results  # noqa: F401`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sweeps.results import build_trials_table, write_trials_table
from sweeps.storage import resolve
from vaemodels.checkpoint import checkpoint_name, write_epoch_checkpoint
from vaemodels.config import TrialConfig
from vaemodels.datasets import load_dataset
from vaemodels.training import fit

SWEEP_NAME = "sweepA"
BASE_CONFIG = {
    "dataset": "shapes",
    "image_size": 32,
    "n_samples": 600,
    "epochs": 2,
    "batch_size": 64,
    "embed_samples": 120,
    "precision": "fp32",
}
# trial_id -> the keys that differ; three architectures, several beta and latent_dim values.
TRIALS: dict[str, dict] = {
    "trial_vae_00000": {"arch": "vae", "beta": 1.0, "latent_dim": 2},
    "trial_cond_00001": {"arch": "conditional", "beta": 4.0, "latent_dim": 3},
    "trial_branch_00002": {"arch": "branched", "beta": 2.0, "latent_dim": 4},
    "trial_vae_00003": {"arch": "vae", "beta": 8.0, "latent_dim": 3},
}
SETTINGS = {"preset": "test", "metric": "loss", "mode": "min"}


def train_trial(folder: Path, config: TrialConfig) -> None:
    """Train one tiny model, writing a checkpoint each epoch (latents at best and last) as a sweep trial does."""
    data = load_dataset(config)
    fit(
        config,
        data,
        callbacks=[lambda event: write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)],
        device="cpu",
    )


def make_sweep(root: Path, name: str = SWEEP_NAME, trials: dict[str, dict] | None = None) -> Path:
    """Train `trials` into `<root>/<name>/<trial_id>/` and write its trials.parquet; returns the sweep folder."""
    sweep = root / name
    for trial_id, keys in (trials or TRIALS).items():
        train_trial(sweep / trial_id, TrialConfig.from_dict({**BASE_CONFIG, **keys}))
    location = resolve(sweep)
    write_trials_table(location, build_trials_table(location), {"settings": SETTINGS})
    return sweep


def copy_results(source: Path, target: Path) -> Path:
    """A private copy of a results folder, for tests that damage or extend it."""
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="session")
def sweep_results(tmp_path_factory) -> Path:
    """A results folder holding one sweep (`sweepA`) of four tiny trained trials; do not modify it."""
    root = tmp_path_factory.mktemp("results")
    make_sweep(root)
    return root
