"""trials.parquet: one row a trial, built from the sweep folder itself so it can always be rebuilt without Ray."""

from __future__ import annotations

import json
import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sweeps.storage import Location
from vaemodels.config import CONFIG_KEYS, SCHEMA_VERSION

TRIALS_FILE = "trials.parquet"
CHECKPOINT_PREFIX = "checkpoint_"
LATENT_METRICS = (
    "active_units",
    "probe_accuracy",
    "mig",
    "gaussian_tc",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
)
DCI_FILE = "dci.json"  # written beside latents.parquet by `latentsweep metrics`
DIVERGED_FILE = "diverged.json"  # written by a trial whose loss became NaN
LEADING_COLUMNS = ("trial_id", "status", "stopped_early", "diverged", "error")
# Present even when no trial has written a checkpoint yet.
REQUIRED_COLUMNS = (
    "best_loss",
    "best_epoch",
    "epochs_trained",
    "loss",
    "val_kl_per_dim",
    *LATENT_METRICS,
    "node",
    "device",
    "checkpoint_path",
    "latents_path",
    "last_checkpoint_path",
)
STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
_NOT_LAST_METRICS = {"val_kl_per_dim", "node", "device", "diverged", *LATENT_METRICS}


@dataclass(frozen=True)
class TrialState:
    """What only the scheduler knows about a trial; read from Ray's files when the sweep is not running."""

    status: str = "TERMINATED"
    error: str | None = None
    config: dict[str, Any] | None = None  # the trial's flat config, for trials that never wrote a checkpoint


def _checkpoint_histories(trial: Location) -> dict[str, list[dict[str, Any]]]:
    """history.json of every checkpoint of a trial, by checkpoint folder name (unreadable ones left out)."""
    histories = {}
    for name in trial.list_dirs():
        if name.startswith(CHECKPOINT_PREFIX):
            try:
                histories[name] = trial.join(name, "history.json").read_json()
            except (OSError, ValueError):
                continue  # a checkpoint being written, or a damaged one: the others still count
    return histories


def _stored_state(trial: Location) -> TrialState:
    """The status Ray left on disk: error.txt means ERROR; params.json holds the config."""
    config = trial.join("params.json").read_json() if trial.join("params.json").exists() else None
    if trial.join("error.txt").exists():
        return TrialState("ERROR", trial.join("error.txt").read_text().strip()[-2000:], config)
    return TrialState("TERMINATED", None, config)


def trial_row(sweep: Location, trial_id: str, state: TrialState | None = None) -> dict[str, Any]:
    """One row of trials.parquet for the trial folder `<sweep>/<trial_id>`."""
    trial = sweep.join(trial_id)
    state = state or _stored_state(trial)
    histories = _checkpoint_histories(trial)
    row: dict[str, Any] = {"trial_id": trial_id, "status": state.status, "error": state.error}
    config = dict(state.config or {})
    if histories:
        last_name = max(histories)  # checkpoint folders sort by epoch
        config = trial.join(last_name, "config.json").read_json()
        row.update(_metric_columns(trial, histories, last_name))
    row.update({key: config.get(key) for key in CONFIG_KEYS})
    planned = config.get("epochs")
    trained = row.get("epochs_trained", 0)
    row["stopped_early"] = bool(
        state.status == "TERMINATED" and not row.get("diverged") and planned and 0 < trained < planned
    )
    row.setdefault("diverged", False)
    return row


def _metric_columns(trial: Location, histories: dict[str, list], last_name: str) -> dict[str, Any]:
    history = histories[last_name]  # the newest checkpoint holds every epoch so far
    last = history[-1] if history else {}
    best = min(history, key=lambda h: _finite(h.get("loss"))) if history else {}
    best_name = f"{CHECKPOINT_PREFIX}{best.get('epoch', 1) - 1:06d}"
    if best_name not in histories:  # the best epoch's checkpoint was not kept: take the best of those kept
        best_name = min(histories, key=lambda n: _finite(histories[n][-1].get("loss") if histories[n] else None))
    best_entry = histories[best_name][-1] if histories[best_name] else {}
    columns = {key: value for key, value in last.items() if key not in _NOT_LAST_METRICS and key != "lr"}
    columns.update(
        best_loss=best.get("loss"),
        best_epoch=best.get("epoch"),
        epochs_trained=len(history),
        val_kl_per_dim=last.get("val_kl_per_dim"),
        node=last.get("node"),
        device=last.get("device"),
        diverged=trial.join(last_name, DIVERGED_FILE).exists(),
        checkpoint_path=posixpath.join(trial.path.rsplit("/", 1)[-1], best_name),
        last_checkpoint_path=posixpath.join(trial.path.rsplit("/", 1)[-1], last_name),
    )
    latents = trial.join(best_name, "latents.parquet")
    columns["latents_path"] = columns["checkpoint_path"] + "/latents.parquet" if latents.exists() else None
    columns.update({key: best_entry.get(key) for key in LATENT_METRICS})
    dci = trial.join(best_name, DCI_FILE)
    if dci.exists():
        columns.update({k: v for k, v in dci.read_json().items() if k in LATENT_METRICS})
    return columns


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def trial_ids(sweep: Location) -> list[str]:
    """Trial folders of a sweep: sub-folders holding a checkpoint or Ray's params.json."""
    return [
        name
        for name in sweep.list_dirs()
        if not name.startswith(".")
        and (
            sweep.join(name, "params.json").exists()
            or any(d.startswith(CHECKPOINT_PREFIX) for d in sweep.join(name).list_dirs())
        )
    ]


def _latest_attempts(names: list[str]) -> list[str]:
    """Drop a trial folder superseded by a retry: Tune names the new one `<old>_<4 hex digits>`."""
    retried = {name.rsplit("_", 1)[0] for name in names if re.fullmatch(r".+_[0-9a-f]{4}", name)}
    return [name for name in names if name not in retried]


def build_trials_table(sweep: Location, states: dict[str, TrialState] | None = None) -> pd.DataFrame:
    """Rows for every trial folder (and every trial the scheduler knows of), sorted by best_loss."""
    # The scheduler's list is authoritative; without it, the folders (a retried trial's older attempt left out).
    ids = sorted(states) if states else _latest_attempts(trial_ids(sweep))
    states = states or {}
    frame = pd.DataFrame([trial_row(sweep, trial_id, states.get(trial_id)) for trial_id in ids])
    if frame.empty:
        return frame
    ordered = [*LEADING_COLUMNS, *CONFIG_KEYS, *REQUIRED_COLUMNS]
    frame = frame.reindex(columns=ordered + [c for c in frame.columns if c not in ordered])  # missing ones: null
    return frame.sort_values("best_loss", na_position="last", kind="stable").reset_index(drop=True)


def write_trials_table(sweep: Location, frame: pd.DataFrame, metadata: dict[str, Any]) -> None:
    """Write trials.parquet atomically where the filesystem allows (write aside, then move)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {k.encode(): json.dumps(v).encode() for k, v in {**metadata, "schema_version": SCHEMA_VERSION}.items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    target = sweep.join(TRIALS_FILE)
    partial = sweep.join(f".{TRIALS_FILE}.partial")
    sweep.fs.create_dir(sweep.path, recursive=True)
    pq.write_table(table, partial.path, filesystem=sweep.fs)
    sweep.fs.move(partial.path, target.path)


def read_trials_table(sweep: Location) -> tuple[pd.DataFrame, dict[str, Any]]:
    """trials.parquet as a DataFrame and its decoded key-value metadata."""
    table = pq.read_table(sweep.join(TRIALS_FILE).path, filesystem=sweep.fs)
    raw = table.schema.metadata or {}
    metadata = {k.decode(): json.loads(v) for k, v in raw.items() if k != b"pandas"}
    return table.to_pandas(), metadata
