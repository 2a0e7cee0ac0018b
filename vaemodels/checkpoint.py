"""The trial folder of CONTRACT.md: write self-contained checkpoints, read trials back through the registry."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from vaemodels.config import SCHEMA_VERSION, TrialConfig
from vaemodels.datasets import DATASETS
from vaemodels.embeddings import LATENTS_FILE, encode, mu_columns, read_latents, write_latents
from vaemodels.models import VAE
from vaemodels.registry import create_model
from vaemodels.training import EpochEnd, TrainState, new_state

CHECKPOINT_PREFIX = "checkpoint_"
CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, HISTORY_FILE = "config.json", "model.pt", "optimizer.pt", "history.json"


class TrialNotFound(FileNotFoundError):
    """A path holds no checkpoint that `load_trial` can read."""


def checkpoint_name(epoch: int) -> str:
    """Folder name of an epoch's checkpoint; numbered from 0 like Tune's own."""
    return f"{CHECKPOINT_PREFIX}{epoch - 1:06d}"


def save_checkpoint(
    directory: str | Path, config: TrialConfig, state: TrainState, latents: pd.DataFrame | None
) -> Path:
    """Write config.json, model.pt, optimizer.pt, history.json (and latents.parquet when given) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps({**config.to_dict(), "schema_version": SCHEMA_VERSION}, indent=1))
    torch.save(state.model.state_dict(), directory / MODEL_FILE)
    torch.save(state.optimizer.state_dict(), directory / OPTIMIZER_FILE)
    (directory / HISTORY_FILE).write_text(json.dumps(state.history))
    if latents is not None:
        write_latents(latents, directory / LATENTS_FILE, config, state.epoch)
    return directory


def write_epoch_checkpoint(directory: str | Path, event: EpochEnd) -> Path:
    """The checkpoint for one epoch; latents (and their cheap metrics) only at new-best and final epochs."""
    latents = None
    if event.is_best or event.is_last:
        latents = encode(event.state.model, event.data)
        event.metrics.update(_cheap_latent_metrics(latents, event.config))  # also lands in history.json
    return save_checkpoint(directory, event.config, event.state, latents)


def _cheap_latent_metrics(latents: pd.DataFrame, config: TrialConfig) -> dict[str, float]:
    from vaemodels.metrics import latent_metrics  # scikit-learn: imported when first needed

    mu = latents[mu_columns(config.model.latent_dim)].to_numpy()
    labels = latents["label"].to_numpy()
    factor_names = list(DATASETS[config.data.dataset].factor_names)
    factors = latents[factor_names].to_numpy() if factor_names else None
    return latent_metrics(mu, labels=labels if (labels >= 0).any() else None, factors=factors, seed=config.seed)


def restore_state(directory: str | Path, device: str | torch.device = "cpu") -> tuple[TrialConfig, TrainState]:
    """Config and training state (model, optimizer, history) from a checkpoint, ready for `fit(state=...)`."""
    directory = Path(directory)
    config = read_config(directory)
    state = new_state(config, torch.device(device))
    state.model.load_state_dict(torch.load(directory / MODEL_FILE, map_location=device, weights_only=True))
    state.optimizer.load_state_dict(torch.load(directory / OPTIMIZER_FILE, map_location=device, weights_only=True))
    state.history = json.loads((directory / HISTORY_FILE).read_text())
    lr = state.optimizer.param_groups[0]["lr"]
    state.lr_reductions = round(math.log(lr / config.train.lr) / math.log(0.2)) if lr < config.train.lr else 0
    return config, state


def read_config(directory: str | Path) -> TrialConfig:
    """The TrialConfig stored in a checkpoint's config.json."""
    path = Path(directory) / CONFIG_FILE
    try:
        return TrialConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


@dataclass
class LoadedTrial:
    """A trial read back from disk: its config, its rebuilt model (eval mode) and its history."""

    path: Path  # the trial folder
    checkpoint: Path  # the checkpoint directory the model came from
    config: TrialConfig
    model: VAE
    history: list[dict[str, Any]]

    @property
    def latents_path(self) -> Path | None:
        path = self.checkpoint / LATENTS_FILE
        return path if path.exists() else None

    def latents(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The checkpoint's latents table (only `columns` when given)."""
        if self.latents_path is None:
            raise TrialNotFound(f"{self.checkpoint} has no {LATENTS_FILE}")
        return read_latents(self.latents_path, columns)


def list_checkpoints(trial_dir: str | Path) -> list[Path]:
    """The checkpoint folders of a trial folder, oldest first."""
    return sorted(p for p in Path(trial_dir).glob(f"{CHECKPOINT_PREFIX}*") if (p / CONFIG_FILE).exists())


def best_checkpoint(trial_dir: str | Path) -> Path:
    """The checkpoint with the lowest `loss` at its own epoch, else the latest one."""
    checkpoints = list_checkpoints(trial_dir)
    if not checkpoints:
        raise TrialNotFound(f"{trial_dir} holds no {CHECKPOINT_PREFIX}* folder with a {CONFIG_FILE}")

    def loss(checkpoint: Path) -> float:
        try:
            history = json.loads((checkpoint / HISTORY_FILE).read_text())
            return float(history[-1]["loss"])
        except (OSError, ValueError, KeyError, IndexError):
            return math.inf

    return min(reversed(checkpoints), key=loss)


def load_trial(path: str | Path, device: str | torch.device = "cpu") -> LoadedTrial:
    """Rebuild a trial from a checkpoint directory, a trial folder (its best checkpoint) or a `train --out` folder."""
    path = Path(path).resolve()
    if not path.exists():
        raise TrialNotFound(f"{path} does not exist")
    is_checkpoint = (path / CONFIG_FILE).exists()
    checkpoint = path if is_checkpoint else best_checkpoint(path)
    trial_dir = path.parent if is_checkpoint else path
    config = read_config(checkpoint)
    model = create_model(config)
    model.load_state_dict(torch.load(checkpoint / MODEL_FILE, map_location=device, weights_only=True))
    history = json.loads((checkpoint / HISTORY_FILE).read_text())
    return LoadedTrial(trial_dir, checkpoint, config, model.to(device).eval(), history)


def find_trial_dirs(root: str | Path) -> list[Path]:
    """Every trial folder below `root` (a folder holding checkpoint folders), sorted."""
    root = Path(root)
    found = {p.parent.parent for p in root.rglob(f"{CHECKPOINT_PREFIX}*/{CONFIG_FILE}")}
    return sorted(found)


def load_trials(directory: str | Path, where: dict[str, Any] | None = None, device: str = "cpu") -> list[LoadedTrial]:
    """Every trial below `directory` whose flat config matches all of `where` (all trials when no filter)."""
    where = where or {}
    trials = []
    for trial_dir in find_trial_dirs(directory):
        config = read_config(best_checkpoint(trial_dir)).to_dict()
        if all(config.get(key) == value for key, value in where.items()):
            trials.append(load_trial(trial_dir, device))
    return trials


def prune_checkpoints(trial_dir: str | Path, keep: int = 2) -> None:
    """Delete all but the best and the newest checkpoints (at most `keep` folders)."""
    checkpoints = list_checkpoints(trial_dir)
    keep_set = {best_checkpoint(trial_dir), *checkpoints[-max(keep - 1, 1) :]}
    for checkpoint in checkpoints:
        if checkpoint not in keep_set:
            shutil.rmtree(checkpoint)
