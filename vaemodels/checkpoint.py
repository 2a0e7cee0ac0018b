"""Checkpoints of the trial folder (layout: vaemodels/trial_folder.py): write them, read trials back.

`load_trial` reads through a pyarrow filesystem, so a checkpoint on a local disk and one in a bucket load alike.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs
import torch

from vaemodels import trial_folder as tf
from vaemodels.config import SCHEMA_VERSION, ConfigError, TrialConfig
from vaemodels.datasets import DATASETS
from vaemodels.embeddings import encode, mu_columns, read_latents, write_latents
from vaemodels.models import VAE, create_model
from vaemodels.storage import Location, on
from vaemodels.training import EpochEnd, TrainState, new_state

checkpoint_name = tf.checkpoint_name  # re-exported: callers name checkpoints through this module


class TrialNotFound(FileNotFoundError):
    """A path holds no checkpoint that `load_trial` can read; the message names the file."""


def save_checkpoint(
    directory: str | Path,
    config: TrialConfig,
    state: TrainState,
    latents: pd.DataFrame | None,
    summary: dict[str, Any] | None = None,
) -> Path:
    """Write config.json, model.pt, optimizer.pt (and the auxiliary optimiser's, and sampling=iid's sampler.pt),
    history.json, summary.json (and latents.parquet when given)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    flat = config.to_dict()
    (directory / tf.CONFIG_FILE).write_text(json.dumps({**flat, "schema_version": SCHEMA_VERSION}, indent=1))
    torch.save(state.model.state_dict(), directory / tf.MODEL_FILE)
    torch.save(state.optimizer.state_dict(), directory / tf.OPTIMIZER_FILE)
    if state.auxiliary is not None:
        torch.save(state.auxiliary.state_dict(), directory / tf.AUXILIARY_OPTIMIZER_FILE)
    if state.sampler is not None:
        torch.save(state.sampler.get_state(), directory / tf.SAMPLER_FILE)
    (directory / tf.HISTORY_FILE).write_text(json.dumps(state.history))
    if latents is not None:
        write_latents(latents, directory / tf.LATENTS_FILE, config, state.epoch)
    summary = summary or tf.trial_summary(flat, state.history, finished=False, last_checkpoint=directory.name)
    (directory / tf.SUMMARY_FILE).write_text(json.dumps(summary))
    return directory


def write_epoch_checkpoint(directory: str | Path, event: EpochEnd) -> Path:
    """The checkpoint for one epoch; latents (and their cheap metrics) only at new-best and final epochs."""
    latents = None
    if event.is_best or event.is_last:
        latents = encode(event.state.model, event.data)
        event.metrics.update(_cheap_latent_metrics(latents, event.config))  # also lands in history.json
    flat = event.config.to_dict()
    name = tf.checkpoint_name(event.state.epoch)
    summary = tf.trial_summary(flat, event.state.history, finished=event.is_last, last_checkpoint=name)
    return save_checkpoint(directory, event.config, event.state, latents, summary)


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
    state.model.load_state_dict(torch.load(directory / tf.MODEL_FILE, map_location=device, weights_only=True))
    for optimizer, name in ((state.optimizer, tf.OPTIMIZER_FILE), (state.auxiliary, tf.AUXILIARY_OPTIMIZER_FILE)):
        if optimizer is not None and (directory / name).exists():  # dropped once a sweep trial finished: fresh then
            optimizer.load_state_dict(torch.load(directory / name, map_location=device, weights_only=True))
    if state.sampler is not None and (directory / tf.SAMPLER_FILE).exists():
        state.sampler.set_state(torch.load(directory / tf.SAMPLER_FILE, weights_only=True))
    state.history = json.loads((directory / tf.HISTORY_FILE).read_text())
    state.steps = int(state.history[-1].get("steps", 0)) if state.history else 0
    lr = state.optimizer.param_groups[0]["lr"]
    state.lr_reductions = round(math.log(lr / config.train.lr) / math.log(0.2)) if lr < config.train.lr else 0
    return config, state


def read_config(directory: str | Path | Location) -> TrialConfig:
    """The TrialConfig stored in a checkpoint's config.json."""
    location = directory if isinstance(directory, Location) else on(None, directory)
    return TrialConfig.from_dict(_read(location.join(tf.CONFIG_FILE), Location.read_json))


@dataclass
class LoadedTrial:
    """A trial read back from storage: its config, its rebuilt model (eval mode) and its history."""

    folder: Location  # the trial folder
    checkpoint_location: Location  # the checkpoint directory the model came from
    config: TrialConfig
    model: VAE
    history: list[dict[str, Any]]

    @property
    def path(self) -> Path:
        return Path(self.folder.path)

    @property
    def checkpoint(self) -> Path:
        return Path(self.checkpoint_location.path)

    @property
    def latents_path(self) -> Path | str | None:
        """The checkpoint's latents.parquet: a Path on a local disk, else its URI; None when there is none."""
        location = self.checkpoint_location.join(tf.LATENTS_FILE)
        if not location.exists():
            return None
        return Path(location.path) if location.is_local else location.uri

    def latents(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The checkpoint's latents table (only `columns` when given)."""
        location = self.checkpoint_location.join(tf.LATENTS_FILE)
        return _read(location, lambda loc: read_latents(loc.path, columns, filesystem=loc.fs))


def list_checkpoints(trial_dir: str | Path) -> list[Path]:
    """The checkpoint folders of a local trial folder, oldest first."""
    return [Path(checkpoint.path) for checkpoint in _checkpoints(on(None, trial_dir))]


def _checkpoints(folder: Location) -> list[Location]:
    return [folder.join(name) for name in folder.list_dirs() if tf.is_checkpoint_name(name)]


def best_checkpoint(trial: str | Path | Location) -> Location:
    """The trial's best checkpoint: as its newest summary says, else the lowest `loss` at its own epoch."""
    folder = trial if isinstance(trial, Location) else on(None, trial)
    checkpoints = _checkpoints(folder)
    if not checkpoints:
        raise TrialNotFound(f"{folder.uri} holds no {tf.CHECKPOINT_PREFIX}* folder")
    for checkpoint in reversed(checkpoints):
        try:
            named = checkpoint.join(tf.SUMMARY_FILE).read_json()["checkpoint_path"]
            if tf.path_problem(named):  # never outside the trial folder: this summary is passed over
                continue
            best = folder.join(named)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if best.join(tf.CONFIG_FILE).exists():
            return best

    def loss(checkpoint: Location) -> float:
        try:
            return tf.finite(checkpoint.join(tf.HISTORY_FILE).read_json()[-1]["loss"])
        except (OSError, ValueError, KeyError, IndexError):
            return math.inf

    return min(reversed(checkpoints), key=loss)


def load_trial(
    path: str | Path | Location, device: str | torch.device = "cpu", filesystem: pafs.FileSystem | None = None
) -> LoadedTrial:
    """Rebuild a trial from a checkpoint directory, a trial folder (its best checkpoint) or a `train --out` folder.

    `path` is local unless `filesystem` (a pyarrow filesystem, e.g. S3) or a Location says where it lives.
    """
    location = path if isinstance(path, Location) else on(filesystem, path)
    if not location.exists():
        raise TrialNotFound(f"{location.uri} does not exist")
    is_checkpoint = location.join(tf.CONFIG_FILE).exists()
    checkpoint = location if is_checkpoint else best_checkpoint(location)
    config = read_config(checkpoint)
    model = create_model(config)
    model_file = checkpoint.join(tf.MODEL_FILE)
    state = _read(model_file, lambda loc: torch.load(io.BytesIO(loc.read_bytes()), map_location=device,
                                                     weights_only=True))  # fmt: skip
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise TrialNotFound(f"{model_file.uri} does not fit its {tf.CONFIG_FILE}: {error}") from error
    history = _read(checkpoint.join(tf.HISTORY_FILE), Location.read_json)
    return LoadedTrial(checkpoint.parent, checkpoint, config, model.to(device).eval(), history)


def _read(location: Location, reader):
    """reader(location), with any failure turned into TrialNotFound naming the file."""
    try:
        return reader(location)
    except FileNotFoundError as error:
        raise TrialNotFound(f"{location.uri} is missing") from error
    except ConfigError:
        raise
    except Exception as error:  # corrupt Parquet, JSON, a truncated model.pt: all end here with the file's name
        raise TrialNotFound(f"{location.uri} cannot be read ({type(error).__name__}: {error})") from error


def find_trial_dirs(root: str | Path) -> list[Path]:
    """Every trial folder below `root` (a folder holding checkpoint folders), sorted."""
    root = Path(root)
    found = {p.parent.parent for p in root.rglob(f"{tf.CHECKPOINT_PREFIX}*/{tf.CONFIG_FILE}")}
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
    keep_set = {Path(best_checkpoint(trial_dir).path), *checkpoints[-max(keep - 1, 1) :]}
    for checkpoint in checkpoints:
        if checkpoint not in keep_set:
            shutil.rmtree(checkpoint)


def check_checkpoint(checkpoint: Location, latents: bool = True, thorough: bool = True) -> str | None:
    """None when the checkpoint's model.pt (and latents.parquet) are whole; else a line naming the damaged file.

    `thorough` reads model.pt whole and checks every member's checksum; otherwise only the archive's directory at
    its end is read (a truncated upload shows there), which is what a resume can afford for thousands of trials.
    """
    import zipfile

    import pyarrow.parquet as pq

    model_file = checkpoint.join(tf.MODEL_FILE)
    try:
        with model_file.fs.open_input_file(model_file.path) as stream, zipfile.ZipFile(stream) as archive:
            bad = archive.testzip() if thorough else None  # torch.save writes a zip archive
        if bad is not None:
            return f"{model_file.uri} is damaged (member {bad} fails its checksum)"
    except FileNotFoundError:
        return f"{model_file.uri} is missing"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        return f"{model_file.uri} is damaged ({error})"
    if latents:
        latents_file = checkpoint.join(tf.LATENTS_FILE)
        try:
            pq.read_metadata(latents_file.path, filesystem=checkpoint.fs)  # the footer: a truncated file has none
        except FileNotFoundError:
            return f"{latents_file.uri} is missing"
        except Exception as error:  # ArrowInvalid for a truncated footer, OSError for storage trouble
            return f"{latents_file.uri} is damaged ({error})"
    return None


def checkpoint_problem(sweep: Location, row: Any, thorough: bool = True) -> str | None:
    """check_checkpoint on the best checkpoint a trials.parquet row names (None when it names none)."""
    checkpoint, latents = row.get("checkpoint_path"), row.get("latents_path")
    if not isinstance(checkpoint, str):
        return None
    return check_checkpoint(sweep.join(checkpoint), latents=isinstance(latents, str), thorough=thorough)
