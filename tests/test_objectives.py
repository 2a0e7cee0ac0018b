"""Multi-objective sweeps: --metrics/--modes refused before Ray where they cannot work, and the Pareto front."""

import optuna
import pandas as pd
import pytest

from sweeps.ranking import pareto_front
from sweeps.settings import make_settings
from tests.helpers.tables import write_sweep_table
from vaemodels.cli import main

SHAPES = ["--dataset", "shapes"]


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--metrics", "loss,mig", "--modes", "min,max", "--scheduler", "asha"], ("--metrics", "asha")),
        (["--metrics", "loss,mig", "--modes", "min,max", "--betas", "1,4"], ("--metrics", "--betas")),
        (["--metrics", "loss,mig", "--modes", "min"], ("--modes", "--metrics")),
        (["--metrics", "loss", "--modes", "min"], ("--metrics", "two or more")),
        (["--metrics", "loss,dci_completeness", "--modes", "min,max"], ("dci_completeness", "finished")),
        (["--metrics", "loss,mig", "--modes", "min,max", "--metric", "mig"], ("--metric", "--metrics")),
    ],
)
def test_objectives_that_cannot_work_are_refused_before_ray_starts(flags, names, tmp_path, capsys):
    assert main(["sweep", *SHAPES, *flags, "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentsweep sweep: ") and all(n in err[0] for n in names), err
    assert not (tmp_path / "quick").exists()  # nothing written


def test_mig_needs_a_dataset_with_factors(tmp_path, capsys):
    flags = ["--metrics", "loss,mig", "--modes", "min,max", "--dataset", "mnist_5k", "--storage", str(tmp_path)]
    assert main(["sweep", *flags]) == 2
    assert "has no ground-truth factors" in capsys.readouterr().err


FRAME = pd.DataFrame(
    {
        "trial_id": ["a", "b", "c", "d", "e", "f"],
        "status": ["TERMINATED"] * 5 + ["ERROR"],
        "best_loss": [100.0, 110.0, 120.0, 105.0, 100.0, 50.0],
        "mig": [0.1, 0.3, 0.2, 0.05, 0.1, 0.9],
        "problem": [None] * 6,
    }
)


def test_the_pareto_front_holds_exactly_the_undominated_finished_trials():
    # a (100, 0.1) and b (110, 0.3) trade off; c is beaten by b on both; d by a; e ties a (kept); f errored.
    front = pareto_front(FRAME, [("loss", "min"), ("mig", "max")])
    assert front["trial_id"].tolist() == ["a", "e", "b"]
    # Flipping a mode flips what "better" means: highest loss and lowest mig.
    assert set(pareto_front(FRAME, [("loss", "max"), ("mig", "min")])["trial_id"]) == {"c", "d"}


def write_sweep(folder, settings) -> None:
    rows = [{**row, "arch": "vae", "latent_dim": 4, "beta": 1.0} for row in FRAME.to_dict("records")]
    write_sweep_table(folder, rows, settings)


def test_best_pareto_reads_the_sweeps_objectives_and_the_study_has_both(tmp_path, capsys):
    settings = make_settings("quick", {"metrics": ("loss", "mig"), "modes": ("min", "max")}, {"dataset": "shapes"})
    write_sweep(tmp_path / "sweep", settings)
    assert main(["best", str(tmp_path / "sweep"), "--pareto"]) == 0
    out = capsys.readouterr().out
    assert "Pareto front of 3 of 6 trials on best_loss (min), mig (max)" in out
    assert main(["dashboard", str(tmp_path / "sweep"), "--export", str(tmp_path / "s.db")]) == 0
    study = optuna.load_study(study_name="quick", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert sorted(t.user_attrs["trial_id"] for t in study.best_trials) == ["a", "b", "e"]


def test_best_pareto_on_a_single_objective_sweep_asks_for_metrics(tmp_path, capsys):
    write_sweep(tmp_path / "sweep", make_settings("quick", {}, {}))
    assert main(["best", str(tmp_path / "sweep"), "--pareto"]) == 2
    assert "give --metrics" in capsys.readouterr().err
    assert main(["best", str(tmp_path / "sweep"), "--pareto", "--metrics", "loss,mig", "--modes", "min,max"]) == 0
