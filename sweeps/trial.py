"""The Tune trial: a thin adapter that turns Tune's dict into a TrialConfig, runs `fit`, reports and checkpoints."""

from __future__ import annotations

import functools
import json
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from ray import tune

from sweeps.space import trial_config
from vaemodels import (
    ATTEMPT_FILE,
    CONFIG_FILE,
    DIVERGED_FILE,
    HISTORY_FILE,
    LATENT_KEYS,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    Dataset,
    DatasetFile,
    EpochEnd,
    Location,
    TrainingDiverged,
    TrialConfig,
    checkpoint_name,
    fit,
    is_checkpoint_name,
    load_dataset,
    on,
    register_dataset_file,
    restore_state,
    save_checkpoint,
    trial_summary,
    write_epoch_checkpoint,
)

SUMMARY_KEY = "trial_summary"  # the reported metric that carries the trial's row (sweeps/bookkeeping.py reads it)


@functools.lru_cache(maxsize=2)
def _cached_dataset(data_key: str) -> Dataset:
    """One load per worker process and dataset: reused actors train many trials on the same data."""
    return load_dataset(TrialConfig.from_dict(json.loads(data_key)))


def _dataset(config: TrialConfig) -> Dataset:
    data = config.data
    key = {"dataset": data.dataset, "image_size": data.image_size, "data_dir": data.data_dir}
    key.update(n_samples=data.n_samples, data_seed=data.data_seed)  # what the data is drawn from
    return _cached_dataset(json.dumps(key, sort_keys=True))


def _device(gpus: float) -> torch.device:
    """The GPU Ray gave this trial, or CPU (with one warning when Ray gave a GPU that CUDA cannot see)."""
    if gpus > 0 and torch.cuda.is_available():
        return torch.device("cuda")  # Ray sets CUDA_VISIBLE_DEVICES to the trial's GPU
    if gpus > 0:
        warnings.warn("Ray assigned a GPU but CUDA is not available here; training on CPU", stacklevel=2)
    return torch.device("cpu")


def _node_id() -> str:
    import ray  # core API, allowed inside a trial (ray.train.* is what raises under Tune)

    return ray.get_runtime_context().get_node_id()


def run_trial(
    flat: dict[str, Any],
    threads: int = 1,
    gpus: float = 0.0,
    callbacks: Sequence[Callable[[EpochEnd], None]] = (),
) -> None:
    """Train one configuration, reporting every epoch with its self-contained checkpoint.

    `callbacks` are the caller's own, called after each epoch once its metrics and checkpoint were reported.
    """
    torch.set_num_threads(max(1, threads))  # oversubscribed threads were measured 12-19x slower
    config = trial_config(flat)
    device = _device(gpus)
    data = _dataset(config)
    where = {"node": _node_id(), "device": str(device)}
    _count_attempt()
    state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        finished = _finished_checkpoint()
        if finished is not None:  # Tune's saved state lagged behind a trial that had already finished
            _report_again(finished)
            return
        with checkpoint.as_directory() as directory:
            config, state = restore_state(directory, device)

    def report(event: EpochEnd) -> None:
        event.metrics.update(where, diverged=False)
        with tempfile.TemporaryDirectory(prefix="ls-ckpt-") as directory:
            write_epoch_checkpoint(directory, event)
            summary = Path(directory, SUMMARY_FILE).read_text()  # the row the driver keeps: no storage read
            metrics = {**_best_latent_metrics(summary), **_reportable(event.metrics), SUMMARY_KEY: summary}
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))

    try:
        fit(config, data, callbacks=[report, *callbacks], device=device, state=state)
    except TrainingDiverged as error:
        _report_divergence(config, error, where)


def registering(trainable: Callable[..., None], record: DatasetFile | None) -> Callable[..., None]:
    """`trainable` that first registers the sweep's dataset file in its worker: Ray's workers do not share the
    driver's registry, so each registers the file from the record it is handed (a worker that cannot read the file
    fails its trial with the record's one line)."""
    if record is None:
        return trainable

    @functools.wraps(trainable)  # Tune names trials after it, and reads its signature
    def registered_first(flat: dict[str, Any], **kwargs: Any) -> None:
        register_dataset_file(record)
        trainable(flat, **kwargs)

    return registered_first


def _report_divergence(config: TrialConfig, error: TrainingDiverged, where: dict[str, str]) -> None:
    """End the trial cleanly with its last finite metrics and a marker, so a resume does not retrain it."""
    checkpoint = tune.get_checkpoint()
    last: dict[str, Any] = {"loss": float("inf"), "epoch": error.epoch - 1}
    history: list[dict[str, Any]] = []
    name = checkpoint_name(error.epoch)  # one report an epoch so far, so Tune's next folder is this one
    with tempfile.TemporaryDirectory(prefix="ls-ckpt-") as directory:
        if checkpoint is not None:
            with checkpoint.as_directory() as previous:
                _, state = restore_state(previous)
            history = state.history
            last = dict(history[-1]) if history else last
        summary = trial_summary(config.to_dict(), history, finished=True, diverged=True, last_checkpoint=name)
        if checkpoint is not None:
            save_checkpoint(directory, config, state, latents=None, summary=summary)
        else:  # diverged in its first epoch: nothing finite to keep but the config
            flat = {**config.to_dict(), "schema_version": SCHEMA_VERSION}
            Path(directory, CONFIG_FILE).write_text(json.dumps(flat))
            Path(directory, HISTORY_FILE).write_text("[]")
            Path(directory, SUMMARY_FILE).write_text(json.dumps(summary))
        marker = {"epoch": error.epoch, "term": error.term, "value": str(error.value)}
        Path(directory, DIVERGED_FILE).write_text(json.dumps(marker))
        last.update(where, diverged=True, diverged_at=error.epoch, diverged_term=error.term)
        last[SUMMARY_KEY] = json.dumps({**summary, **where})
        tune.report(_reportable(last), checkpoint=tune.Checkpoint.from_directory(directory))


def _trial_folder() -> Location:
    """This trial's folder on the sweep's filesystem (ray 2.60's storage context)."""
    storage = tune.get_context().get_storage()
    return on(storage.storage_filesystem, storage.trial_fs_path)


def _count_attempt() -> None:
    """attempt.json: how many times this trial has started (vaemodels/trial_folder.py `last_attempt_failed`)."""
    try:
        folder = _trial_folder()
        marker = folder.join(ATTEMPT_FILE)
        started = int(marker.read_json().get("attempt", 0)) if marker.exists() else 0
        marker.write_text(json.dumps({"attempt": started + 1}))
    except (AttributeError, OSError, ValueError):
        pass  # no storage context (a trial run outside a sweep): the rebuild falls back to Tune's state


def _finished_checkpoint() -> Location | None:
    """This trial's newest checkpoint on storage when its summary says the trial had finished, else None.

    Tune restores a trial from the checkpoint its saved state names, and that state is written every few seconds:
    a driver that stopped just after a trial finished would have it trained again from an older checkpoint.
    """
    try:
        folder = _trial_folder()
        newest = max((name for name in folder.list_dirs() if is_checkpoint_name(name)), default=None)
        if newest is not None and folder.join(newest, SUMMARY_FILE).read_json().get("status") == "TERMINATED":
            return folder.join(newest)
    except (AttributeError, OSError, ValueError):
        pass  # no storage context or no readable summary: restore as Tune says
    return None


def _report_again(checkpoint: Location) -> None:
    """Report a finished trial's last epoch once more, without training: Tune then records it as done."""
    history = checkpoint.join(HISTORY_FILE).read_json()
    last = dict(history[-1]) if history else {"loss": float("inf")}
    summary = checkpoint.join(SUMMARY_FILE).read_text()
    tune.report({**_best_latent_metrics(summary), **_reportable(last), SUMMARY_KEY: summary})


def _best_latent_metrics(summary: str) -> dict[str, float]:
    """The latent metrics of the best epoch so far, for the epochs that encode no latents: every report then
    carries each one (a multi-objective search may optimise `mig`); this epoch's own values override them."""
    row = json.loads(summary)
    return {key: row[key] for key in LATENT_KEYS if isinstance(row.get(key), (int, float))}


def _reportable(metrics: dict[str, Any]) -> dict[str, Any]:
    """Tune takes scalars, strings and lists; drop nothing else silently."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool, list)) or v is None}
