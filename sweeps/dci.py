"""DCI for the trials of a sweep: after the Tune loop (too slow for a driver callback) or by `latentsweep metrics`.

Each trial's result is cached as dci.json beside its best latents.parquet, keyed by regressor and sample count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd
import pyarrow.parquet as pq

from sweeps.results import DCI_FILE, TRIALS_FILE, read_trials_table, write_trials_table
from sweeps.storage import Location, StorageError, resolve
from vaemodels.datasets import DATASETS
from vaemodels.metrics import DCI_REGRESSORS, dci_metrics

DEFAULT_SAMPLES = 10_000
DCI_COLUMNS = ("dci_disentanglement", "dci_completeness", "dci_informativeness")


def trial_dci(sweep: Location, row: pd.Series, regressor: str, max_samples: int) -> dict[str, float] | None:
    """DCI of one trial's best latents (cached); None when the trial has no latents or its dataset no factors."""
    if not isinstance(row.get("latents_path"), str):
        return None
    factor_names = list(DATASETS[row["dataset"]].factor_names) if row.get("dataset") in DATASETS else []
    if not factor_names:
        return None
    cache = sweep.join(row["checkpoint_path"], DCI_FILE)
    key = {"regressor": regressor, "samples": max_samples}
    if cache.exists():
        cached = cache.read_json()
        if all(cached.get(k) == v for k, v in key.items()):
            return {k: cached[k] for k in DCI_COLUMNS}
    mu = [f"mu_{i}" for i in range(int(row["latent_dim"]))]
    latents = pq.read_table(sweep.join(row["latents_path"]).path, columns=mu + factor_names, filesystem=sweep.fs)
    frame = latents.to_pandas()
    scores = dci_metrics(frame[mu].to_numpy(), frame[factor_names].to_numpy(), regressor, max_samples, int(row["seed"]))
    cache.write_text(json.dumps({**key, **scores}))
    return scores


def add_dci(
    sweep: Location,
    frame: pd.DataFrame,
    regressor: str = "random_forest",
    max_samples: int = DEFAULT_SAMPLES,
    trial_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Fill the DCI columns of the finished trials (all, or the given ids) and return the table."""
    frame = frame.copy()
    for column in DCI_COLUMNS:
        if column not in frame.columns:
            frame[column] = float("nan")
    for index, row in frame.iterrows():
        if row["status"] != "TERMINATED" or (trial_ids and row["trial_id"] not in trial_ids):
            continue
        started = time.perf_counter()
        scores = trial_dci(sweep, row, regressor, max_samples)
        if scores is not None:
            for column in DCI_COLUMNS:
                frame.at[index, column] = scores[column]
            print(
                f"  {row['trial_id']}: DCI {scores['dci_disentanglement']:.3f} ({time.perf_counter() - started:.1f} s)"
            )
    return frame


def metrics_command(args: argparse.Namespace) -> int:
    """`latentsweep metrics`: compute DCI for an existing (or running) sweep and update trials.parquet."""
    sweep = resolve(args.sweep_dir)
    if not sweep.join(TRIALS_FILE).exists():
        print(
            f"latentsweep metrics: {sweep.uri} has no {TRIALS_FILE} (run `latentsweep best` to rebuild it)",
            file=sys.stderr,
        )
        return 2
    try:
        frame, metadata = read_trials_table(sweep)
    except (OSError, StorageError) as error:
        print(f"latentsweep metrics: {error}", file=sys.stderr)
        return 2
    ids = [t for t in (args.trials or "").split(",") if t] or None
    unknown = sorted(set(ids or ()) - set(frame["trial_id"]))
    if unknown:
        print(f"latentsweep metrics: --trials {','.join(unknown)}: no such trial in {sweep.uri}", file=sys.stderr)
        return 2
    frame = add_dci(sweep, frame, args.regressor, args.dci_samples, ids)
    metadata.update(dci_regressor=args.regressor, dci_samples=args.dci_samples)
    metadata.pop("schema_version", None)
    write_trials_table(sweep, frame, metadata)
    columns = ["trial_id", "arch", "beta", "latent_dim", "active_units", "mig", *DCI_COLUMNS]
    with pd.option_context("display.width", 160):
        print(frame[[c for c in columns if c in frame.columns]].to_string(index=False))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `metrics` to the latentsweep command."""
    parser = commands.add_parser("metrics", help="compute DCI (and keep the other latent metrics) for a sweep")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--dci-samples", type=int, default=DEFAULT_SAMPLES, help="latent rows used by DCI")
    parser.add_argument("--trials", help="comma-separated trial ids (default: every finished trial)")
    parser.add_argument(
        "--regressor",
        choices=DCI_REGRESSORS,
        default="random_forest",
        help="random_forest (seconds a trial) or gradient_boosting (the reference; minutes a trial)",
    )
    parser.set_defaults(handler=metrics_command)
