"""Explorer speed: loading and rendering the trial table of a 1,000-trial sweep, and switching the selected trial.

The table is timed beside a plain `pandas.read_parquet` of the same trials.parquet (the baseline); both are held
against the goal of 1 s. A switch updates every per-trial view (summary, training curves, KL bars, reconstructions,
the overview's ring and the table's selection) with their Bokeh models built, as in a served page.

Run: .venv/bin/python benchmarks/explorer_speed.py [--trials 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' sweep builder, run from anywhere

import numpy as np
import pandas as pd
import panel as pn

import explorer.app as explorer_app
from explorer.app import ExplorerApp
from explorer.selection import ExplorerState
from explorer.store import ResultsStore
from explorer.table_view import TrialTable
from sweeps.results import read_trials_table, write_trials_table
from sweeps.storage import resolve
from tests.explorer_fixtures import SWEEP_NAME, TRIALS, make_sweep

GOAL_SECONDS = 1.0


def widen_sweep(sweep: Path, n_trials: int, seed: int = 0) -> None:
    """Rewrite trials.parquet with n_trials rows: the real trials repeated, with varied ids, beta and metrics."""
    location = resolve(sweep)
    frame, metadata = read_trials_table(location)
    rng = np.random.default_rng(seed)
    rows = frame.iloc[np.arange(n_trials) % len(frame)].reset_index(drop=True)
    rows["trial_id"] = [f"trial_{i:05d}" for i in range(n_trials)]
    rows["beta"] = np.exp(rng.uniform(np.log(0.1), np.log(32), n_trials))
    for column in ("best_loss", "loss", "val_recon", "val_kl", "mig"):
        rows[column] = rows[column] * rng.uniform(0.8, 1.2, n_trials)
    write_trials_table(location, rows, metadata)


def seconds(action, repeats: int) -> float:
    """Median wall time of `action()` over `repeats` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table_seconds(results: Path, repeats: int) -> float:
    """A fresh store reads trials.parquet; the table view builds its Tabulator and Bokeh model."""

    def load_and_render() -> None:
        store = ResultsStore(results)
        state = ExplorerState(sweep=store.sweeps()[0])
        TrialTable(store, state).tabulator.get_root()

    return seconds(load_and_render, repeats)


def switch_seconds(results: Path, trial_ids: list[str], repeats: int) -> tuple[float, float]:
    """(first visit, revisit) median seconds to select another trial in a page whose models are built."""
    explorer_app._latent_explorer = lambda data_dir: None  # the latent views are timed by their own benchmark
    app = ExplorerApp(ResultsStore(results))
    pn.Column(*app.main()).get_root()
    first = []
    for trial_id in trial_ids:  # each trial's decoder, latents and history are read for the first time
        start = time.perf_counter()
        app.state.trial_id = trial_id
        first.append(time.perf_counter() - start)
        assert app.summary.shown_trial == trial_id, app.summary.error
        assert app.reconstructions.shown_trial == trial_id, app.reconstructions.error

    def revisit_all() -> None:
        for trial_id in trial_ids:
            app.state.trial_id = trial_id

    revisit = seconds(revisit_all, repeats) / len(trial_ids)
    return statistics.median(first[1:] or first), revisit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results"
        print(f"training {len(TRIALS)} tiny trials for the sweep folder ...", flush=True)
        sweep = make_sweep(results)
        widen_sweep(sweep, args.trials)
        trials_file = sweep / "trials.parquet"
        baseline = seconds(lambda: pd.read_parquet(trials_file), args.repeats)
        table = table_seconds(results, args.repeats)
        distinct = [f"trial_{i:05d}" for i in range(len(TRIALS))]  # rows 0-3 point at the four real trials
        first, revisit = switch_seconds(results, distinct, args.repeats)
    ratio = table / baseline
    print(f"pandas.read_parquet of {args.trials:,} trials (baseline): {baseline * 1000:.1f} ms")
    print(f"trial table, {args.trials:,} trials, read + built: {table * 1000:.0f} ms ({ratio:.1f}x the baseline)")
    print(f"switch trial, first visit (reads decoder, latents, history): {first * 1000:.0f} ms")
    print(f"switch trial, revisit (cached): {revisit * 1000:.0f} ms")
    worst = max(table, first, revisit)
    print(f"goal: each of the three times under {GOAL_SECONDS:.0f} s (sweep {SWEEP_NAME}, {args.trials:,} rows)")
    print(f"headline: slowest of table / first switch / revisit over the 1 s goal: {worst / GOAL_SECONDS:.2f}")


if __name__ == "__main__":
    main()
