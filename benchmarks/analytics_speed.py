"""Sweep analytics speed: with 2,000 trials in the table, brushing a parallel-coordinates axis filters the table
and redraws the overview, the parallel coordinates and the Pareto plot. Goal: 1 s from the brush to the last redrawn
plot object (the Python side: the table's filter, ExplorerState, and the views' new Bokeh/HoloViews models; what the
browser then paints is not in it). fANOVA importance is timed beside it: it follows the sweep's table and the
metric, not a brush, so it is not in the brush's path.

The table is made up (2,000 trials over arch, beta, latent_dim, lr and seed with five metrics); the page's models
are built first, as a session does, so each brush redraws real plots. Brushes alternate between two latent_dim
ranges and two beta ranges (beta through its sidebar slider). Prints every run, the best, the median and the spread;
the LAST line is the headline: median brush seconds / goal (<= 1 meets it).

Run: .venv/bin/python benchmarks/analytics_speed.py [--trials 2000] [--repeats 12]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import GlyphRenderer, Scatter

from explorer.app import ExplorerApp
from explorer.store import ResultsStore
from explorer.sweep.importance import importances
from vaemodels import resolve, write_trials_table

GOAL_S = 1.0
BRUSHES = (("latent_dim", 3, 9), ("beta", 0.5, 4.0), ("latent_dim", 8, 16), ("beta", 0.2, 12.0))


def made_up_sweep(folder: Path, n_trials: int, seed: int = 0) -> None:
    """A sweep folder whose trials.parquet holds n_trials made-up finished trials."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "trial_id": [f"trial_{i:05d}" for i in range(n_trials)],
            "status": "TERMINATED",
            "arch": rng.choice(["vae", "conditional", "branched"], n_trials),
            "beta": np.exp(rng.uniform(np.log(0.1), np.log(32), n_trials)),
            "latent_dim": rng.choice([2, 4, 8, 16, 32], n_trials),
            "lr": np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), n_trials)),
            "seed": rng.integers(0, 4, n_trials),
            "epochs": 10,
        }
    )
    frame["best_loss"] = 60 + 4 * np.log(frame["beta"]) - np.log2(frame["latent_dim"]) + rng.normal(0, 1, n_trials)
    frame["loss"] = frame["best_loss"] + rng.uniform(0, 2, n_trials)
    frame["val_recon"] = frame["loss"] * rng.uniform(0.7, 0.9, n_trials)
    frame["val_kl"] = frame["loss"] - frame["val_recon"]
    frame["mig"] = np.clip(0.05 * np.log(frame["beta"]) + rng.normal(0.2, 0.05, n_trials), 0, 1)
    folder.mkdir(parents=True)
    write_trials_table(resolve(folder), frame, {})


def drawn_scatters(root) -> list[int]:
    """Points in each Bokeh scatter of trials (the overview and the Pareto plot) in the page's models."""
    renderers = root.select({"type": GlyphRenderer})
    return [
        len(r.data_source.data["arch"])
        for r in renderers
        if isinstance(r.glyph, Scatter)
        and r.data_source.data.get("arch") is not None
        and len(r.data_source.data["arch"])
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        made_up_sweep(Path(root) / "sweep", args.trials)
        store = ResultsStore(root)
        start = time.perf_counter()
        app = ExplorerApp(store)
        root = pn.Column(app.table, app.tabs).get_root()  # the session's models: a brush now redraws real plots
        print(f"page with {args.trials} trials built in {time.perf_counter() - start:.2f} s")
        parallel, times = app.analytics.parallel, []
        for repeat in range(args.repeats):
            column, low, high = BRUSHES[repeat % len(BRUSHES)]
            start = time.perf_counter()
            parallel.brush(column, low, high)
            seconds = time.perf_counter() - start
            shown = len(app.table.tabulator.current_view)
            assert len(app.overview.frame) == shown == len(parallel.sources["kept"].data["ys"])
            assert drawn_scatters(root) == [shown, shown]  # the overview's and the Pareto plot's models were redrawn
            times.append(seconds)
            print(f"brush {column} {low}-{high}: {shown} of {args.trials} trials, {seconds:.3f} s")
        start = time.perf_counter()
        parallel.clear()
        print(f"clear every brush: {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        found = importances(store.trials("sweep"), "best_loss")
        top = max(found, key=found.get)
        print(
            f"fANOVA importance of best_loss: {time.perf_counter() - start:.2f} s (top: {top}, not in a brush's path)"
        )
    median = statistics.median(times)
    print(
        f"brush -> table, overview, parallel coordinates, Pareto: best {min(times):.3f} s, median {median:.3f} s, "
        f"worst {max(times):.3f} s over {len(times)} brushes; goal {GOAL_S:.1f} s"
    )
    print(f"analytics brush: median / goal = {median / GOAL_S:.2f}")


if __name__ == "__main__":
    main()
