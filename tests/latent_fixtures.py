"""Tiny real trained trials for the latent-view tests (test_explorer_splom.py, test_explorer_traversal.py).

Each test module wraps `train_tiny_trial` in its own module-scoped fixture.
"""

from __future__ import annotations

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
