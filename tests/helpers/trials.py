"""Tiny real trained trials: a trial folder as a sweep trial leaves it, made by `fit` without Ray.

The fixtures of tests/conftest.py train the ones many modules read once a test session.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vaemodels.checkpoint import LoadedTrial, checkpoint_name, load_trial, write_epoch_checkpoint
from vaemodels.config import TrialConfig
from vaemodels.datasets import load_dataset
from vaemodels.training import fit

TINY = {
    "dataset": "shapes",
    "image_size": 32,
    "n_samples": 800,
    "epochs": 2,
    "batch_size": 64,
    "embed_samples": 0,  # every validation sample: 160 rows
    "precision": "fp32",
    "latent_dim": 4,
}


def train_tiny_trial(folder: Path, **keys: object) -> LoadedTrial:
    """Train a tiny model into `folder` (a checkpoint an epoch, latents at best and last) and load it back."""
    config = TrialConfig.from_dict({**TINY, **keys})
    checkpoint = lambda event: write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)  # noqa: E731
    fit(config, load_dataset(config), callbacks=[checkpoint], device="cpu")
    return load_trial(folder)


SMALL = {"arch": "vae", "dataset": "shapes", "image_size": 32, "n_samples": 200, "latent_dim": 2, "epochs": 2}


def train_trial(folder: Path, seed: int, epochs: int = 2) -> None:
    """A 2-dimensional `vae` on 200 shapes as a sweep trial leaves it: a checkpoint an epoch, each with its summary;
    `epochs` below 2 stops it there, as a driver that stopped would."""
    config = TrialConfig.from_dict({**SMALL, "seed": seed})

    def keep(event):
        write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)
        if event.state.epoch == epochs and epochs < config.train.epochs:
            raise KeyboardInterrupt  # stands for a driver that stopped here

    with contextlib.suppress(KeyboardInterrupt):
        fit(config, load_dataset(config), callbacks=[keep])
