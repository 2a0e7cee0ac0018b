"""The sweep as an Optuna study, from trials.parquet alone: every trial once, its state, params and Tune id."""

import json
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest

from sweeps.settings import make_settings
from sweeps.study import StudyMirror, search_distributions
from tests.helpers.processes import free_port
from tests.helpers.tables import write_sweep_table
from vaemodels import frame_from_rows
from vaemodels.cli import main

SETTINGS = make_settings("quick", {"num_samples": 8}, {})


def row(trial_id, status="TERMINATED", best_loss=150.0, **values):
    return {"trial_id": trial_id, "status": status, "best_loss": best_loss, "arch": "branched", "latent_dim": 4,
            "beta": 2.0, "lr": 1e-3, "classifier_weight": 1.5, "classifier_on": "z", "epochs": 4,
            "epochs_trained": 4, "mig": 0.25, **values}  # fmt: skip


ROWS = [
    row("done"),
    row("pruned", best_loss=170.0, stopped_early=True, epochs_trained=1),
    row("diverged", best_loss=None, diverged=True),
    row("failed", status="ERROR", best_loss=None, error="RuntimeError: boom"),
    row("running", status="RUNNING", best_loss=None),
    row("other", arch="vae", classifier_weight=None, classifier_on=None, best_loss=140.0),
]


def write_sweep(folder, rows, settings=SETTINGS) -> None:
    write_sweep_table(folder, rows, settings)


def load(path) -> optuna.Study:
    return optuna.load_study(study_name=SETTINGS.name, storage=f"sqlite:///{path}")


def test_export_holds_every_trial_once_with_its_state_params_and_tune_id(tmp_path):
    write_sweep(tmp_path / "sweep", ROWS)
    assert main(["dashboard", str(tmp_path / "sweep"), "--export", str(tmp_path / "study.db")]) == 0
    study = load(tmp_path / "study.db")  # Optuna alone, no latentsweep
    trials = {t.user_attrs["trial_id"]: t for t in study.trials}
    assert sorted(trials) == sorted(r["trial_id"] for r in ROWS)
    states = {tid: t.state.name for tid, t in trials.items()}
    assert states == {"done": "COMPLETE", "pruned": "PRUNED", "diverged": "FAIL", "failed": "FAIL",
                      "running": "RUNNING", "other": "COMPLETE"}  # fmt: skip
    assert trials["done"].value == 150.0 and trials["done"].user_attrs["mig"] == 0.25
    assert trials["done"].params == {"arch": "branched", "beta": 2.0, "latent_dim": 4, "lr": 1e-3,
                                     "classifier_weight": 1.5, "classifier_on": "z"}  # fmt: skip
    assert trials["other"].params == {"arch": "vae", "beta": 2.0, "latent_dim": 4, "lr": 1e-3}
    assert study.best_trial.user_attrs["trial_id"] == "other" and trials["failed"].user_attrs["error"]


def test_the_distributions_come_from_the_search_space_and_a_grids_axes():
    space = search_distributions(SETTINGS)
    beta = SETTINGS.parameters["beta"]
    assert space["beta"].log and (space["beta"].low, space["beta"].high) == (beta.low, beta.high)
    assert space["classifier_on"].choices == ("features", "z") and set(space["arch"].choices) == set(SETTINGS.archs)
    grid = make_settings("quick", {"archs": ("vae",), "betas": (1.0, 4.0), "seeds": (0, 1)}, {})
    axes = search_distributions(grid)
    assert axes["beta"].choices == (1.0, 4.0) and axes["seed"].choices == (0, 1) and "lr" not in axes


def test_a_mirror_adds_new_trials_and_finishes_running_ones(tmp_path):
    mirror = StudyMirror(f"sqlite:///{tmp_path / 'live.db'}", SETTINGS)
    assert mirror.sync(frame_from_rows(ROWS)) == len(ROWS)
    assert mirror.sync(frame_from_rows(ROWS)) == 0  # nothing changed
    later = [r for r in ROWS if r["trial_id"] != "running"] + [row("running", best_loss=120.0), row("new")]
    assert mirror.sync(frame_from_rows(later)) == 2
    trials = {t.user_attrs["trial_id"]: t for t in load(tmp_path / "live.db").trials}
    assert len(trials) == len(ROWS) + 1 and trials["running"].state.name == "COMPLETE"
    assert trials["running"].value == 120.0


def test_export_refuses_an_existing_file_and_a_missing_sweep(tmp_path, capsys):
    write_sweep(tmp_path / "sweep", ROWS)
    (tmp_path / "taken.db").write_text("keep me")
    assert main(["dashboard", str(tmp_path / "sweep"), "--export", str(tmp_path / "taken.db")]) == 2
    assert (tmp_path / "taken.db").read_text() == "keep me"
    assert main(["dashboard", str(tmp_path / "nowhere"), "--export", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "already exists" in err[0] and "does not exist" in err[1]


@pytest.mark.slow
def test_the_dashboard_serves_the_study_on_loopback_and_follows_the_table(tmp_path):
    write_sweep(tmp_path / "sweep", ROWS[:2])
    port = free_port()
    command = [sys.executable, "-m", "vaemodels.cli", "dashboard", str(tmp_path / "sweep"), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert len(_trials(port)) == 2
        write_sweep(tmp_path / "sweep", ROWS)  # the sweep goes on: the dashboard follows within a refresh
        deadline = time.time() + 30
        while len(_trials(port)) < len(ROWS) and time.time() < deadline:
            time.sleep(0.5)
        assert len(_trials(port)) == len(ROWS)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _trials(port: int, timeout: float = 60) -> list:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/1?after=0", timeout=5) as answer:
                return json.loads(answer.read())["trials"]
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
