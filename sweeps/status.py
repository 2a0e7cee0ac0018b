"""`latentsweep status SWEEP`: how far a sweep has come, read from its trials.parquet alone (no Ray, no torch).

For a sweep that runs detached (`ray job submit`, another machine, a bucket). The ETA assumes the trials still to
come take the median duration of the finished ones and run as many at a time as run now:
ceil(left / at_a_time) x median, where `left` counts the planned trials not yet finished or errored.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import pandas as pd

from sweeps.ranking import describe_config, metric_column, rank
from sweeps.settings import SettingsError, SweepSettings
from sweeps.space import trial_count
from vaemodels import TRIALS_FILE, Location, StorageError, TableDamaged, loss_name, read_trials_table, resolve

FINISHED, ERRORED, RUNNING = "TERMINATED", "ERROR", ("RUNNING", "PENDING")


def planned_trials(settings: dict[str, Any] | None) -> int | None:
    """How many trials the sweep's settings ask for: the grid's size, or the search's num_samples."""
    try:
        return trial_count(SweepSettings.from_json(settings))
    except SettingsError:  # none stored, or of another version: say nothing rather than guess
        return None


def trial_durations(frame: pd.DataFrame) -> list[float]:
    """Seconds each finished trial trained (tables made before `trial_seconds`: its epochs x its last epoch's time)."""
    done = frame[frame["status"] == FINISHED]
    if "trial_seconds" in done and done["trial_seconds"].notna().all():
        seconds = done["trial_seconds"]
    elif "epoch_seconds" in done:
        seconds = done["epoch_seconds"] * done["epochs_trained"]
    else:
        return []
    return [float(s) for s in seconds if isinstance(s, (int, float)) and math.isfinite(s) and s > 0]


def report(sweep: Location, frame: pd.DataFrame, metadata: dict[str, Any]) -> tuple[str, bool]:
    """The status text, and whether every planned trial has finished or errored."""
    counts = frame["status"].value_counts()
    finished, errored = int(counts.get(FINISHED, 0)), int(counts.get(ERRORED, 0))
    running = int(sum(counts.get(status, 0) for status in RUNNING))
    planned = planned_trials(metadata.get("settings"))
    of = f" of {planned} planned" if planned else ""
    lines = [f"{sweep.uri}: {len(frame)} trials{of}"]
    lines.append(f"  finished {finished} · running {running} · errored {errored}")
    metric, mode = metadata.get("metric", "loss"), metadata.get("mode", "min")
    ranked = rank(frame, metric, mode) if metric == "loss" or metric in frame else frame.iloc[:0]
    if not ranked.empty:
        best = ranked.iloc[0]
        column = metric_column(metric)
        what = f" ({loss_name(best.get('recon'))})" if metric == "loss" else ""
        config = describe_config(best.to_dict(), ("arch", "latent_dim", "beta"))
        lines.append(f"  best so far: {best['trial_id']}, {column} {best[column]:.4g}{what}; {config}")
    durations = trial_durations(frame)
    left = max(0, (planned or len(frame)) - finished - errored)
    if planned is not None and left == 0:
        lines.append("  every planned trial has ended")
    elif durations:
        median = statistics.median(durations)
        at_a_time = max(1, running)
        eta = math.ceil(left / at_a_time) * median
        lines.append(
            f"  a trial takes {_duration(median)} (median of {len(durations)} finished); "
            f"ETA {_duration(eta)} for {left} left, {at_a_time} at a time"
        )
    elif left:
        lines.append(f"  {left} left; no trial has finished yet, so no ETA")
    return "\n".join(lines), planned is not None and left == 0


def status_command(args: argparse.Namespace) -> int:
    """Print the sweep's status once, or every --watch seconds until every planned trial is done (or Ctrl-C)."""
    if args.watch is not None and not (math.isfinite(args.watch) and args.watch > 0):
        raise StorageError(f"--watch {args.watch}: give the seconds between refreshes, a finite number > 0")
    sweep = resolve(args.sweep_dir)
    try:
        while True:
            text, complete = report(sweep, *read_table(sweep))
            print(text, flush=True)
            if args.watch is None or complete:
                return 0
            time.sleep(args.watch)
            print(f"--- {time.strftime('%H:%M:%S')}", flush=True)
    except KeyboardInterrupt:
        return 130


def read_table(sweep: Location) -> tuple[pd.DataFrame, dict[str, Any]]:
    """trials.parquet and its metadata, for the commands that read the table alone (status, dashboard);
    a missing or damaged table is the user's error, named."""
    refuse_folder_table(sweep)
    try:
        return read_trials_table(sweep)
    except FileNotFoundError:
        raise StorageError(f"{sweep.join(TRIALS_FILE).uri} does not exist: no sweep has started there") from None
    except TableDamaged as error:
        raise StorageError(f"{error}; `latentsweep metrics {sweep.uri}` rebuilds it from the trial folders") from None


def refuse_folder_table(sweep: Location) -> None:
    """A trials.parquet that is a folder is read as an empty dataset, and a rebuild cannot replace it: named."""
    table = sweep.join(TRIALS_FILE)
    if table.is_dir():
        raise StorageError(f"{table.uri} is a folder, not a file: move it aside, then `latentsweep best` rebuilds it")


def _duration(seconds: float) -> str:
    """12 s, 4 min 5 s, 2 h 3 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
