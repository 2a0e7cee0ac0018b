"""Rebuilding trials.parquet from the trial folders: one row a trial from its newest summary.json (the old layout,
schema 1, from every checkpoint's history), and the sidecar's metadata and UDR columns. Only proof of damage (or a
missing table) leads here, and only a caller that holds the sweep writes the result back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from vaemodels import trial_folder as tf
from vaemodels.dataset_file import use_recorded_dataset
from vaemodels.storage import Location
from vaemodels.trials_table import (
    DAMAGED_PREFIX,
    PATH_COLUMNS,
    TRIALS_FILE,
    TableDamaged,
    frame_from_rows,
    pending_row,
    read_sidecar,
    read_trials_table,
    row_from_summary,
    write_trials_table,
)
from vaemodels.tune_state import SchedulerState, scheduler_states


def load_or_rebuild(
    sweep: Location, warn: Callable[[str], None] | None = None, write: bool = False
) -> tuple[pd.DataFrame, dict]:
    """trials.parquet, or (when missing or provably damaged) the table rebuilt from the trial folders and the
    sidecar. Only a caller that holds the sweep (`write`: the driver, `metrics`) writes the rebuild back, keeping
    a damaged file aside first; the others rebuild in memory. A read that fails without proof raises
    TableUnreadable and nothing is rebuilt.

    The dataset file the sweep recorded, if any, is registered (vaemodels/dataset_file.py); a file that moved or
    changed goes to `warn`."""
    frame, metadata = _load_or_rebuild(sweep, warn, write)
    use_recorded_dataset(sweep, metadata, warn)
    return frame, metadata


def _load_or_rebuild(sweep: Location, warn: Callable[[str], None] | None, write: bool) -> tuple[pd.DataFrame, dict]:
    try:
        return read_trials_table(sweep)
    except FileNotFoundError:
        reason = None
    except TableDamaged as error:
        reason = str(error)
    frame = tf.contain_paths(rebuild_trials_table(sweep), PATH_COLUMNS)  # summaries' paths are read as is
    if frame.empty:
        return frame, {}
    stored, udr = read_sidecar(sweep)
    frame = _with_udr(frame, udr)
    metadata = {**stored, "rebuilt": True, "rebuilt_because": reason or f"{TRIALS_FILE} was missing"}
    if reason and warn:
        warn(f"{reason}; rebuilt it from the trial folders" + ("" if write else " (in memory only)"))
    if write:
        if reason:
            damaged = sweep.join(TRIALS_FILE)
            aside = sweep.join(DAMAGED_PREFIX + time.strftime("%Y%m%dT%H%M%S"))
            sweep.fs.move(damaged.path, aside.path)
        write_trials_table(sweep, frame, metadata)
    return frame, metadata


def _with_udr(frame: pd.DataFrame, udr: dict[str, list[Any]]) -> pd.DataFrame:
    """The sweep-level UDR columns of the sidecar put back into a rebuilt table (0 pairs where it has none)."""
    frame = frame.copy()
    frame["udr"] = [udr[i][0] if i in udr else None for i in frame["trial_id"]]
    frame["udr"] = frame["udr"].astype("float64")
    if udr:
        frame["udr_pairs"] = [int(udr[i][1]) if i in udr else 0 for i in frame["trial_id"]]
    return frame


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

    Status: a summary that says finished is TERMINATED (a retry's earlier error.txt does not count); a latest
    attempt that failed is ERROR (`_errored`: error.txt's failure count against attempt.json's); otherwise Tune's
    saved state decides (a scheduler's early stop), and a trial that state never heard of was abandoned by a crashed
    driver and is left out.
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
    if error is not None and _errored(trial, entries, checkpoint, summary):
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


def _errored(trial: Location, entries: dict[str, pafs.FileInfo], checkpoint: str | None, summary: dict | None) -> bool:
    """Whether the trial's latest attempt failed: from the counts in attempt.json and error.txt where the trial
    wrote attempt.json; a sweep made before it falls back to comparing error.txt's time with the summary's."""
    if tf.ATTEMPT_FILE in entries:
        try:
            started = int(trial.join(tf.ATTEMPT_FILE).read_json()["attempt"])
            return tf.last_attempt_failed(trial.join(tf.RAY_ERROR_FILE).read_text(), started)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable marker: the times decide, as for an older sweep
    return _mtime(entries[tf.RAY_ERROR_FILE]) >= _summary_time(trial, checkpoint, summary)


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
