"""`latentsweep best`: the top trials of a sweep by any metric, without a running Ray."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from pathlib import Path

import pandas as pd

from sweeps.ranking import (
    SHOWN_KEYS,
    check_column,
    config_values,
    explain_empty,
    healthy,
    metric_column,
    pareto_front,
    rank,
    ranking_line,
    ranking_mode,
)
from sweeps.settings import SettingsError, SweepSettings
from sweeps.status import refuse_folder_table
from vaemodels import (
    TRIALS_FILE,
    Location,
    StorageError,
    TrialNotFound,
    checkpoint_problem,
    load_or_rebuild,
    load_trial,
    loss_name,
    resolve,
)

TABLE_COLUMNS = ["trial_id", "status", "arch", "latent_dim", "beta", "best_loss", "val_recon", "val_kl", "active_units"]


class NoFinishedTrial(LookupError):
    """No trial can be ranked; the message says why in a sentence."""


def load_table(sweep: Location) -> pd.DataFrame:
    """trials.parquet; rebuilt from the trial folders (and written back, with a warning) when missing or damaged."""
    if not sweep.exists():
        raise StorageError(f"{sweep.uri} does not exist")
    refuse_folder_table(sweep)
    frame, _ = load_or_rebuild(sweep, warn=lambda message: print(f"warning: {message}", file=sys.stderr))
    if frame.empty:
        raise StorageError(f"{sweep.uri} holds no trials (no {TRIALS_FILE}, no trial folders)")
    return frame


def rank_checked(sweep: Location, frame: pd.DataFrame, metric: str, mode: str, top: int) -> pd.DataFrame:
    """`rank`, with the files of the trials shown checked first: a damaged one is marked and passed over, and a
    trial marked before whose files now read cleanly loses its mark (a transient error, a file replaced)."""
    frame = heal(sweep, frame)
    while True:
        ranked = rank(frame, metric, mode)
        problems = {index: checkpoint_problem(sweep, row) for index, row in ranked.head(max(top, 1)).iterrows()}
        problems = {index: problem for index, problem in problems.items() if problem}
        if not problems:
            return frame
        for index, problem in problems.items():
            frame.at[index, "problem"] = problem


def heal(sweep: Location, frame: pd.DataFrame) -> pd.DataFrame:
    """The table with each `problem` checked again against the files: cleared where they now read cleanly."""
    frame = frame.copy()
    if "problem" not in frame.columns:
        return frame
    for index, row in frame[frame["problem"].notna()].iterrows():
        checkable = row.get("status") == "TERMINATED" and isinstance(row.get("checkpoint_path"), str)
        if checkable and checkpoint_problem(sweep, row) is None:
            frame.at[index, "problem"] = None
    return frame


def describe_best(frame: pd.DataFrame, sweep: Location, metric: str = "loss", mode: str = "min") -> str:
    """The best trial's config and where its checkpoint and latents are."""
    ranked = rank(frame, metric, mode)
    if ranked.empty:
        return explain_empty(frame, metric)
    best = ranked.iloc[0]
    column = metric_column(metric)
    config = {key: _plain(value) for key, value in config_values(best, (*SHOWN_KEYS, "dataset")).items()}
    what = f", the {loss_name(best.get('recon'))}" if metric == "loss" else ""
    lines = [f"best trial {best['trial_id']} ({column} = {best[column]:.4f}{what}): {config}"]
    if metric == "loss" and "recon" in ranked and ranked["recon"].nunique() > 1:
        lines.append("  note: these trials mix reconstruction likelihoods, so their best_loss values do not compare")
    checkpoint = best.get("checkpoint_path")
    lines.append(f"  checkpoint: {sweep.join(checkpoint).uri if isinstance(checkpoint, str) else 'none recorded'}")
    if isinstance(best.get("latents_path"), str):
        lines.append(f"  latents:    {sweep.join(best['latents_path']).uri}")
    return "\n".join(lines)


def best_command(args: argparse.Namespace) -> int:
    """Print the top trials and the best one; optionally copy its checkpoint out."""
    sweep = resolve(args.sweep_dir)
    if args.pareto:
        return pareto_command(sweep, args)
    try:
        frame = load_table(sweep)
        check_column(frame, args.metric)
        mode = ranking_mode(args.metric, args.mode)
        frame = rank_checked(sweep, frame, args.metric, mode, args.top)
        ranked = rank(frame, args.metric, mode)
    except (StorageError, KeyError) as error:
        print(f"latentsweep best: {error.args[0]}", file=sys.stderr)
        return 2
    damaged = frame[~healthy(frame)]
    for row in damaged.itertuples():
        print(f"damaged trial {row.trial_id}: {row.problem}", file=sys.stderr)
    if ranked.empty:
        print(f"latentsweep best: {explain_empty(frame, args.metric)}", file=sys.stderr)
        return 1
    column = metric_column(args.metric)
    columns = [c for c in dict.fromkeys([*TABLE_COLUMNS, column]) if c in ranked.columns]
    print(ranking_line(args.metric, mode))
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(ranked[columns].head(args.top).to_string(index=False))
    print(describe_best(frame, sweep, args.metric, mode))
    if args.export:
        return export_best(sweep.join(ranked.iloc[0]["checkpoint_path"]), Path(args.export).resolve())
    return 0


def pareto_command(sweep: Location, args: argparse.Namespace) -> int:
    """`best --pareto`: the trials no other beats on every objective (the sweep's own, or --metrics/--modes)."""
    if not sweep.exists():
        raise StorageError(f"{sweep.uri} does not exist")
    refuse_folder_table(sweep)
    frame, metadata = load_or_rebuild(sweep, warn=lambda message: print(f"warning: {message}", file=sys.stderr))
    metrics, modes = args.metrics or (), args.modes or ()
    if not metrics:
        with contextlib.suppress(SettingsError):  # a table without usable settings: only --metrics/--modes can say
            metrics, modes = zip(*SweepSettings.from_json(metadata.get("settings")).objectives)
    if metrics and not modes:  # each objective its own way
        modes = tuple(ranking_mode(metric, None, "--metrics") for metric in metrics)
    if len(metrics) < 2 or len(modes) != len(metrics):
        raise SettingsError(
            "--pareto needs two or more objectives: this sweep has one, so give --metrics (e.g. loss,mig) and "
            "--modes (e.g. min,max)"
        )
    try:
        front = pareto_front(frame, list(zip(metrics, modes)))
    except KeyError as error:
        raise SettingsError(error.args[0]) from None
    if front.empty:
        print(f"latentsweep best: {explain_empty(frame, metrics[0])}", file=sys.stderr)
        return 1
    columns = [metric_column(metric) for metric in metrics]
    shown = [c for c in dict.fromkeys(["trial_id", "arch", "latent_dim", "beta", *columns]) if c in front.columns]
    objectives = ", ".join(f"{column} ({mode})" for column, mode in zip(columns, modes))
    print(f"Pareto front of {len(front)} of {len(frame)} trials on {objectives}:")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(front[shown].to_string(index=False))
    return 0


def export_best(source: Location, destination: Path) -> int:
    """Copy a checkpoint that loads to a local folder; refuse (exit 1) one that does not."""
    try:
        load_trial(source)
    except (TrialNotFound, ValueError) as error:
        print(f"latentsweep best: not exported, the checkpoint does not load: {error}", file=sys.stderr)
        return 1
    if destination.exists():
        print(f"latentsweep best: --export {destination} already exists; choose another folder", file=sys.stderr)
        return 2
    if source.is_local:
        shutil.copytree(source.path, destination)
    else:
        import pyarrow.fs as pafs

        pafs.copy_files(source.path, str(destination), source_filesystem=source.fs)
    print(f"exported to {destination}")
    return 0


def _plain(value):
    """numpy scalars as plain Python values, for printing."""
    return value.item() if hasattr(value, "item") else value
