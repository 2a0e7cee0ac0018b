"""The Study view's redraw with 2,000 trials, against the goal of 1 s a change.

A study the size of one dataset of Locatello et al. 2019: five methods, eight values of each one's hyperparameter,
50 seeds. Each change is timed from the state change to Bokeh models of every plot it redraws (`hv.render`), which is
the server's share of a redraw; the browser's paint is not included.

Run: .venv/bin/python benchmarks/study_speed.py
"""

from __future__ import annotations

import os
import tempfile
import time

import holoviews as hv
import numpy as np

from explorer.page.state import ExplorerState
from explorer.store import ResultsStore
from explorer.sweep.study_view import StudyView
from vaemodels import frame_from_rows, resolve, write_trials_table

GOAL_SECONDS = 1.0
METHODS = (("vae", "beta"), ("beta_tcvae", "tc_weight"), ("factor_vae", "tc_gamma"), ("dip_vae", "lambda_od"),
           ("annealed_vae", "capacity_max"))  # fmt: skip
VALUES, SEEDS = 8, 50
SCORES = ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "gaussian_tc", "active_units")


def study_rows(seed: int = 0) -> list[dict]:
    """2,000 finished trials whose scores share a per-configuration signal plus seed noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for arch, key in METHODS:
        for value in range(VALUES):
            signal = rng.normal(size=len(SCORES))
            for trial_seed in range(SEEDS):
                scores = dict(zip(SCORES, signal + 0.5 * rng.normal(size=len(SCORES)), strict=True))
                rows.append({"trial_id": f"{arch}-{value}-{trial_seed}", "status": "TERMINATED", "arch": arch,
                             key: float(2**value), "latent_dim": 10, "seed": trial_seed, "data_seed": 0,
                             "best_loss": 100 + rng.random(), **scores})  # fmt: skip
    return rows


def timed(change) -> float:
    start = time.perf_counter()
    change()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = study_rows()
        write_trials_table(resolve(os.path.join(folder, "study")), frame_from_rows(rows), {})
        state = ExplorerState(sweep="study")
        view = StudyView(ResultsStore(results=os.path.join(folder, "study")), state)
        assert view.shown, "the study view did not show"

        def render_all() -> None:
            hv.render(view.distribution.object), hv.render(view.correlation.object)

        render_all()  # the first render pays for imports
        half = [row["trial_id"] for row in rows if row["seed"] < SEEDS // 2]
        results = {
            "table filter (all three views)": timed(lambda: (setattr(state, "shown_trials", half), render_all())),
            "filter cleared": timed(lambda: (setattr(state, "shown_trials", None), render_all())),
            "score choice (distribution)": timed(
                lambda: (setattr(view, "score", "dci_disentanglement"), hv.render(view.distribution.object))
            ),
            "method choice (distribution)": timed(
                lambda: (setattr(view, "method", "beta_tcvae"), hv.render(view.distribution.object))
            ),
            "disagreement pair": timed(lambda: setattr(view, "second", "active_units")),
        }
    print(f"{len(rows)} trials, {len(METHODS) * VALUES} configurations of {SEEDS} seeds")
    for name, seconds in results.items():
        print(f"{name}: {seconds:.3f} s, goal {GOAL_SECONDS} s -> ratio {seconds / GOAL_SECONDS:.2f}")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")
    worst = max(results, key=results.get)
    print(f"headline: worst redraw / goal ratio {results[worst] / GOAL_SECONDS:.2f} ({worst}); <= 1 meets the goal")


if __name__ == "__main__":
    main()
