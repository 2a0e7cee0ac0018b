"""trials.parquet: one row a trial. The sweep's driver writes it from memory; without it, it is rebuilt from the
trial folders, one summary.json a trial (the old layout, schema 1, from every checkpoint's history).
"""

from __future__ import annotations

import io
import json
import posixpath
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from vaemodels import trial_folder as tf
from vaemodels.config import CONFIG_KEYS, DATA_SEED_SCHEMA, SCHEMA_VERSION
from vaemodels.metric_names import LATENT_METRICS, SCORE_KEYS, UDR_KEYS
from vaemodels.storage import Location
from vaemodels.tune_state import SchedulerState, scheduler_states

TRIALS_FILE = "trials.parquet"
LEADING_COLUMNS = ("trial_id", "status", "stopped_early", "diverged", "error", "problem")
# Present even when no trial has written a checkpoint yet.
REQUIRED_COLUMNS = (
    "best_loss",
    "best_epoch",
    "epochs_trained",
    "loss",
    "val_kl_per_dim",
    *LATENT_METRICS,
    *SCORE_KEYS,
    *UDR_KEYS,
    "node",
    "device",
    "checkpoint_path",
    "latents_path",
    "last_checkpoint_path",
)
PATH_COLUMNS = ("checkpoint_path", "latents_path", "last_checkpoint_path")
STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
_ROW_KEYS = {"schema_version"}  # summary keys that are not columns


class TableDamaged(ValueError):
    """trials.parquet exists but cannot be read; the message names the file."""


# ---- rows ---------------------------------------------------------------------------------------------------------


def row_from_summary(trial_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A trials.parquet row from a checkpoint's summary: its paths made relative to the sweep folder."""
    row = {key: value for key, value in summary.items() if key not in _ROW_KEYS}
    if summary.get("schema_version", 1) < DATA_SEED_SCHEMA and "seed" in row:
        row.setdefault("data_seed", row["seed"])  # made before data_seed: its data came from `seed`
    row["trial_id"] = trial_id
    for column in PATH_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = posixpath.join(trial_id, row[column])
    row.setdefault("error", None)
    row.setdefault("problem", None)
    return row


def pending_row(trial_id: str, config: dict[str, Any], status: str = "RUNNING") -> dict[str, Any]:
    """The row of a trial that has not written a checkpoint yet."""
    return {"trial_id": trial_id, "status": status, "stopped_early": False, "diverged": False, "error": None,
            "problem": None, "epochs_trained": 0, **{key: config.get(key) for key in CONFIG_KEYS}}  # fmt: skip


def frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table in its column order (contract columns first, missing ones null), best `best_loss` first."""
    frame = pd.DataFrame(rows)
    ordered = [*LEADING_COLUMNS, *CONFIG_KEYS, *REQUIRED_COLUMNS]
    frame = frame.reindex(columns=ordered + [c for c in frame.columns if c not in ordered])
    if frame.empty:
        return frame
    return frame.sort_values("best_loss", na_position="last", kind="stable").reset_index(drop=True)


# ---- trials.parquet -------------------------------------------------------------------------------------------------


def write_trials_table(sweep: Location, frame: pd.DataFrame | pa.Table, metadata: dict[str, Any]) -> None:
    """Replace trials.parquet whole: a rename on a local disk, one PUT on a bucket (a move there is a copy)."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    meta = {k.encode(): json.dumps(v).encode() for k, v in {**metadata, "schema_version": SCHEMA_VERSION}.items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    buffer = io.BytesIO()
    # No dictionaries and no column statistics: a table of a few thousand rows is read whole anyway, and they
    # doubled the time of the driver's most frequent write (6.0 -> 2.9 ms at 2,000 rows, measured here).
    pq.write_table(table, buffer, use_dictionary=False, write_statistics=False)
    sweep.join(TRIALS_FILE).write_bytes(buffer.getvalue())


def read_trials_table(sweep: Location) -> tuple[pd.DataFrame, dict[str, Any]]:
    """trials.parquet as a DataFrame and its decoded key-value metadata; TableDamaged when unreadable."""
    location = sweep.join(TRIALS_FILE)
    try:
        table = pq.read_table(location.path, filesystem=sweep.fs)
        raw = table.schema.metadata or {}
        metadata = {k.decode(): json.loads(v) for k, v in raw.items() if k != b"pandas"}
        frame = table.to_pandas()
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        raise TableDamaged(f"{location.uri} cannot be read ({type(error).__name__}: {error})") from error
    if "trial_id" not in frame.columns or "status" not in frame.columns:
        raise TableDamaged(f"{location.uri} has no trial_id or status column")
    for column in ("problem", "error"):
        if column not in frame.columns:
            frame[column] = None
    if "data_seed" not in frame.columns and "seed" in frame.columns:
        frame["data_seed"] = frame["seed"]  # a table made before data_seed: each trial drew its data from `seed`
    return tf.contain_paths(frame, PATH_COLUMNS), metadata


def load_or_rebuild(sweep: Location, warn: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """trials.parquet, or (when missing or damaged) the table rebuilt from the trial folders and written back."""
    try:
        return read_trials_table(sweep)
    except FileNotFoundError:
        reason = None
    except TableDamaged as error:
        reason = f"{error}; rebuilt it from the trial folders"
    if reason and warn:
        warn(reason)
    frame = rebuild_trials_table(sweep)
    if not frame.empty:
        metadata = {"rebuilt": True}
        write_trials_table(sweep, frame, metadata)
        return frame, metadata
    return frame, {}


class RowTable:
    """trials.parquet in memory, a row a trial. Writing re-encodes only the blocks of rows that changed since the
    last write, so a status change costs little more at 2,000 trials than at 100."""

    BLOCK = 256  # rows a cached Arrow block: few enough chunks for a fast concat, small enough to re-encode

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._block_of: dict[str, int] = {}
        self._blocks: list[list[str]] = []
        self._encoded: dict[int, pa.Table] = {}
        for row in rows or []:
            self.put(row)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> RowTable:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return cls([{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()])

    def get(self, trial_id: str) -> dict[str, Any] | None:
        return self._rows.get(trial_id)

    def ids(self) -> list[str]:
        return list(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, row: dict[str, Any]) -> None:
        """Add or replace the row of row["trial_id"]."""
        trial_id = row["trial_id"]
        if trial_id not in self._block_of:
            if not self._blocks or len(self._blocks[-1]) >= self.BLOCK:
                self._blocks.append([])
            self._blocks[-1].append(trial_id)
            self._block_of[trial_id] = len(self._blocks) - 1
        self._rows[trial_id] = row
        self._encoded.pop(self._block_of[trial_id], None)

    def drop(self, trial_id: str) -> None:
        block = self._block_of.pop(trial_id, None)
        if block is not None:
            self._blocks[block].remove(trial_id)
            self._encoded.pop(block, None)
            del self._rows[trial_id]

    def arrow(self) -> pa.Table:
        """The table, contract columns first (missing ones null), best `best_loss` first."""
        for index, ids in enumerate(self._blocks):
            if index not in self._encoded and ids:
                self._encoded[index] = _encode([self._rows[i] for i in ids])
        parts = [self._encoded[i] for i in range(len(self._blocks)) if i in self._encoded]
        if not parts:
            return pa.table({name: pa.array([], pa.string()) for name in ("trial_id", "status")})
        table = pa.concat_tables(parts, promote_options="permissive")
        ordered = [*LEADING_COLUMNS, *CONFIG_KEYS, *REQUIRED_COLUMNS]
        present = set(table.column_names)
        for name in ordered:
            if name not in present:
                table = table.append_column(name, pa.nulls(len(table)))
        table = table.select(ordered + [c for c in table.column_names if c not in set(ordered)])
        return table.sort_by([("best_loss", "ascending")]) if pa.types.is_floating(table["best_loss"].type) else table

    def frame(self) -> pd.DataFrame:
        return self.arrow().to_pandas()

    def write(self, sweep: Location, metadata: dict[str, Any]) -> None:
        write_trials_table(sweep, self.arrow(), metadata)


def _encode(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the union of their keys (from_pylist would keep the first row's keys only)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return pa.table({key: pa.array([row.get(key) for row in rows]) for key in keys})


# ---- rebuilding from the trial folders ------------------------------------------------------------------------------


def rebuild_trials_table(sweep: Location) -> pd.DataFrame:
    """Every trial folder's row: its newest summary, its status decided as `folder_row` says."""
    states = scheduler_states(sweep)  # Tune's saved state, read only where the folders cannot decide
    rows = []
    for info in sweep.list():
        if info.type != pafs.FileType.Directory or info.base_name.startswith("."):
            continue
        row = folder_row(sweep.join(info.base_name), states)
        if row is not None:
            rows.append(row)
    return frame_from_rows(rows)


def trial_ids(sweep: Location) -> list[str]:
    """The trial folders of a sweep: sub-folders holding a checkpoint or Ray's params.json, not set aside."""
    ids = []
    for name in sweep.list_dirs():
        if name.startswith("."):
            continue
        entries = {info.base_name for info in sweep.join(name).list()}
        if tf.ABANDONED_FILE not in entries and (
            tf.RAY_PARAMS_FILE in entries or any(tf.is_checkpoint_name(entry) for entry in entries)
        ):
            ids.append(name)
    return ids


def folder_row(trial: Location, states: dict[str, SchedulerState] | None = None) -> dict[str, Any] | None:
    """The row of one trial folder, or None for a folder that holds no trial or was set aside.

    Status: a summary that says finished is TERMINATED (a retry's earlier error.txt does not count); an error.txt
    newer than the newest summary is ERROR; otherwise Tune's saved state decides (a scheduler's early stop), and a
    trial that state never heard of was abandoned by a crashed driver and is left out.
    """
    entries = {info.base_name: info for info in trial.list()}
    if tf.ABANDONED_FILE in entries:
        return None
    checkpoints = sorted(name for name, info in entries.items() if tf.is_checkpoint_name(name))
    if not checkpoints and tf.RAY_PARAMS_FILE not in entries:
        return None
    summary, checkpoint, problem = _newest_summary(trial, checkpoints)
    if summary is None and problem == "old-layout":
        from vaemodels.old_layout import old_layout_row

        summary, problem = old_layout_row(trial, checkpoints), None
    if summary is not None:
        row = row_from_summary(trial.name, summary)
    else:
        row = pending_row(trial.name, _params(trial, entries))
    row["problem"] = problem
    error = entries.get(tf.RAY_ERROR_FILE)
    state = (states or {}).get(trial.name)
    if row["status"] == "TERMINATED":
        return row
    if error is not None and _mtime(error) >= _summary_time(trial, checkpoint, summary):
        row.update(status="ERROR", error=_error_text(trial.join(tf.RAY_ERROR_FILE)))
    elif state is not None:
        row["status"] = state.status
        row["error"] = state.error if state.status == "ERROR" else None
        row["stopped_early"] = bool(state.status == "TERMINATED" and tf.fell_short(row))
    elif states is not None:  # Tune's state exists and never heard of this trial: a driver crashed just as it started
        return None
    return row


def _newest_summary(trial: Location, checkpoints: list[str]) -> tuple[dict | None, str | None, str | None]:
    """The newest readable summary and its checkpoint, and a problem note when a newer checkpoint has none.

    One GET a trial in the usual case: a bucket charges by request, and a rebuild of thousands of trials pays each.
    """
    problem = None
    for name in reversed(checkpoints):
        try:
            return trial.join(name, tf.SUMMARY_FILE).read_json(), name, problem
        except FileNotFoundError:
            if _schema_version(trial.join(name)) < tf.SUMMARY_SCHEMA:
                return None, name, "old-layout"
            problem = problem or f"{name}/{tf.SUMMARY_FILE} is missing"
        except (OSError, ValueError) as error:
            problem = problem or f"{name}/{tf.SUMMARY_FILE} cannot be read ({type(error).__name__})"
    return None, None, problem


def _schema_version(checkpoint: Location) -> int:
    try:
        return int(checkpoint.join(tf.CONFIG_FILE).read_json().get("schema_version", 1))
    except (OSError, ValueError, AttributeError):
        return tf.SUMMARY_SCHEMA  # no readable config: a damaged new-layout checkpoint, not an old one


def _params(trial: Location, entries: dict[str, pafs.FileInfo]) -> dict[str, Any]:
    if tf.RAY_PARAMS_FILE not in entries:
        return {}
    try:
        params = trial.join(tf.RAY_PARAMS_FILE).read_json()
    except (OSError, ValueError):
        return {}
    flat: dict[str, Any] = {}  # a grid trial's architecture keys come nested one level down
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat.setdefault(key, value)
    return flat


def _summary_time(trial: Location, checkpoint: str | None, summary: dict | None) -> int:
    """When the newest summary was written (0 without one); asked only when an error.txt needs comparing."""
    if checkpoint is None:
        return 0
    name = tf.SUMMARY_FILE if summary is not None and summary.get("schema_version", 1) >= tf.SUMMARY_SCHEMA else ""
    return _mtime((trial.join(checkpoint, name) if name else trial.join(checkpoint, tf.HISTORY_FILE)).info())


def _mtime(info: pafs.FileInfo) -> int:
    return info.mtime_ns or 0


def _error_text(location: Location) -> str:
    try:
        lines = [line for line in location.read_text().strip().splitlines() if line.strip()]
    except OSError:
        return "trial failed (its error.txt cannot be read)"
    return lines[-1][:2000] if lines else "trial failed (empty error.txt)"
