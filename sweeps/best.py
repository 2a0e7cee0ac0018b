"""`latentsweep best`: the top trials of a sweep by any metric, without a running Ray."""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import pandas as pd

from sweeps.results import TRIALS_FILE, build_trials_table, read_trials_table, write_trials_table
from sweeps.storage import Location, StorageError, resolve

TABLE_COLUMNS = ["trial_id", "status", "arch", "latent_dim", "beta", "best_loss", "val_recon", "val_kl", "active_units"]


def load_table(sweep: Location) -> pd.DataFrame:
    """trials.parquet, rebuilt from the sweep folder (and written back) when it is missing."""
    if sweep.join(TRIALS_FILE).exists():
        return read_trials_table(sweep)[0]
    if not sweep.is_dir():
        raise StorageError(f"{sweep.uri} does not exist")
    frame = build_trials_table(sweep)
    if frame.empty:
        raise StorageError(f"{sweep.uri} holds no trials (no {TRIALS_FILE}, no trial folders)")
    write_trials_table(sweep, frame, {"rebuilt": True})
    return frame


def rank(frame: pd.DataFrame, metric: str = "loss", mode: str = "min") -> pd.DataFrame:
    """Finished trials ranked by `best_loss` for `loss`, else by the metric's own column; NaN last."""
    column = "best_loss" if metric == "loss" else metric
    if column not in frame.columns:
        known = ", ".join(c for c in frame.columns if frame[c].dtype.kind == "f")
        raise KeyError(f"--metric {metric!r} is not a column of {TRIALS_FILE}; numeric columns: {known}")
    ranked = frame[frame["status"] == "TERMINATED"].copy()
    ranked = ranked[ranked[column].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v))]
    return ranked.sort_values(column, ascending=(mode == "min"), kind="stable")


def describe_best(frame: pd.DataFrame, sweep: Location, metric: str = "loss", mode: str = "min") -> str:
    """The best trial's config and where its checkpoint and latents are."""
    ranked = rank(frame, metric, mode)
    if ranked.empty:
        return "no finished trial has a finite value of that metric"
    best = ranked.iloc[0]
    column = "best_loss" if metric == "loss" else metric
    config = {key: _plain(best[key]) for key in ("arch", "latent_dim", "beta", "lr", "dataset") if key in best}
    lines = [f"best trial {best['trial_id']} ({column} = {best[column]:.4f}): {config}"]
    lines.append(f"  checkpoint: {sweep.join(best['checkpoint_path']).uri}")
    if isinstance(best.get("latents_path"), str):
        lines.append(f"  latents:    {sweep.join(best['latents_path']).uri}")
    return "\n".join(lines)


def best_command(args: argparse.Namespace) -> int:
    """Print the top trials and the best one; optionally copy its checkpoint out."""
    sweep = resolve(args.sweep_dir)
    try:
        frame = load_table(sweep)
        ranked = rank(frame, args.metric, args.mode)
    except (StorageError, KeyError) as error:
        print(f"latentsweep best: {error.args[0]}", file=sys.stderr)
        return 2
    column = "best_loss" if args.metric == "loss" else args.metric
    columns = [c for c in dict.fromkeys([*TABLE_COLUMNS, column]) if c in ranked.columns]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(ranked[columns].head(args.top).to_string(index=False))
    print(describe_best(frame, sweep, args.metric, args.mode))
    if args.export and not ranked.empty:
        target = copy_checkpoint(sweep.join(ranked.iloc[0]["checkpoint_path"]), Path(args.export).resolve())
        print(f"exported to {target}")
    return 0


def copy_checkpoint(source: Location, destination: Path) -> Path:
    """Copy a checkpoint folder from storage to a local folder (used by `best --export`)."""
    if destination.exists():
        raise FileExistsError(f"{destination} already exists")
    if source.is_local:
        shutil.copytree(source.path, destination)
        return destination
    import pyarrow.fs as pafs

    pafs.copy_files(source.path, str(destination), source_filesystem=source.fs)
    return destination


def register(commands: argparse._SubParsersAction) -> None:
    """Add `best` to the latentsweep command."""
    parser = commands.add_parser("best", help="the best trials of a sweep by loss or any metric")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--metric", default="loss", help="loss (ranks by best_loss) or any column, e.g. mig")
    parser.add_argument("--mode", choices=("min", "max"), default="min")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--export", help="copy the best checkpoint folder here")
    parser.set_defaults(handler=best_command)


def _plain(value):
    """numpy scalars as plain Python values, for printing."""
    return value.item() if hasattr(value, "item") else value
