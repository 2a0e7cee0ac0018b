"""`latentsweep metrics`: the whole-trial latent metrics (DCI) of an existing or running sweep, without Ray.

Each trial's result is cached as dci.json beside its best latents.parquet, keyed by regressor and sample count.
A damaged trial gets a line naming its file; every other trial is still computed.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from vaemodels import (
    DCI_KEYS,
    DCI_REGRESSOR,
    DCI_SAMPLES,
    TRIALS_FILE,
    Location,
    StorageError,
    TrialDamaged,
    checkpoint_problem,
    load_or_rebuild,
    resolve,
    trial_dci,
    write_trials_table,
)


def add_dci(
    sweep: Location,
    frame: pd.DataFrame,
    regressor: str = DCI_REGRESSOR,
    max_samples: int = DCI_SAMPLES,
    trial_ids: list[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Fill the DCI columns of the finished trials (all, or the given ids); the table and one line a damaged trial."""
    frame = frame.copy()
    for column in (*DCI_KEYS, "problem"):
        if column not in frame.columns:
            frame[column] = float("nan") if column != "problem" else None
    problems = []
    for index, row in frame.iterrows():
        if row["status"] != "TERMINATED" or (trial_ids and row["trial_id"] not in trial_ids):
            continue
        started = time.perf_counter()
        try:
            problem = row["problem"] if isinstance(row["problem"], str) else checkpoint_problem(sweep, row)
            if problem:
                raise TrialDamaged(problem)
            scores = trial_dci(sweep, row.to_dict(), regressor, max_samples)
        except (TrialDamaged, OSError) as error:
            frame.at[index, "problem"] = str(error)
            problems.append(f"{row['trial_id']}: {error}")
            continue
        if scores is not None:
            for column in DCI_KEYS:
                frame.at[index, column] = scores[column]
            seconds = time.perf_counter() - started
            print(f"  {row['trial_id']}: DCI {scores['dci_disentanglement']:.3f} ({seconds:.1f} s)")
    return frame, problems


def metrics_command(args: argparse.Namespace) -> int:
    """`latentsweep metrics`: compute DCI for an existing (or running) sweep and update trials.parquet."""
    sweep = resolve(args.sweep_dir)
    try:
        if not sweep.exists():
            raise StorageError(f"{sweep.uri} does not exist")
        frame, metadata = load_or_rebuild(sweep, warn=lambda message: print(f"warning: {message}", file=sys.stderr))
    except (OSError, StorageError) as error:
        print(f"latentsweep metrics: {error}", file=sys.stderr)
        return 2
    if frame.empty:
        print(f"latentsweep metrics: {sweep.uri} holds no trials (no {TRIALS_FILE}, no trial folders)", file=sys.stderr)
        return 2
    ids = [t for t in (args.trials or "").split(",") if t] or None
    unknown = sorted(set(ids or ()) - set(frame["trial_id"]))
    if unknown:
        print(f"latentsweep metrics: --trials {','.join(unknown)}: no such trial in {sweep.uri}", file=sys.stderr)
        return 2
    frame, problems = add_dci(sweep, frame, args.regressor, args.dci_samples, ids)
    metadata.update(dci_regressor=args.regressor, dci_samples=args.dci_samples)
    metadata.pop("schema_version", None)
    write_trials_table(sweep, frame, metadata)
    columns = ["trial_id", "arch", "beta", "latent_dim", "active_units", "mig", *DCI_KEYS]
    with pd.option_context("display.width", 160):
        print(frame[[c for c in columns if c in frame.columns]].to_string(index=False))
    for line in problems:
        print(f"damaged trial {line}", file=sys.stderr)
    return 0
