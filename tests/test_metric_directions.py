"""Every metric knows which way it is better: `best`, a sweep's --metric and the explorer's Pareto front agree."""

import pytest

from explorer.sweep.pareto import larger_is_better
from sweeps import sweep_file
from sweeps.settings import SweepSettings, make_settings
from tests.helpers.tables import write_sweep_table
from vaemodels import metric_mode
from vaemodels.cli import main

# Three finished trials whose order by mig is the reverse of their order by loss.
ROWS = [
    {"trial_id": trial_id, "status": "TERMINATED", "arch": "vae", "latent_dim": 4, "beta": 1.0, "best_loss": loss,
     "mig": mig, "sap": mig, "epochs_trained": epochs}
    for trial_id, loss, mig, epochs in (("low", 100.0, 0.1, 3), ("mid", 110.0, 0.2, 4), ("high", 120.0, 0.3, 2))
]  # fmt: skip


@pytest.fixture
def sweep(tmp_path):
    write_sweep_table(tmp_path / "sweep", ROWS, make_settings("quick", {}, {}))
    return str(tmp_path / "sweep")


def best_lines(capsys, *flags) -> tuple[int, list[str], str]:
    code = main(["best", *flags])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_the_scores_rank_highest_first_and_best_says_so(sweep, capsys):
    code, out, _ = best_lines(capsys, sweep, "--metric", "mig")
    assert code == 0 and out[0] == "ranked by mig, higher is better"
    assert out[2].split()[0] == "high" and out[-2].startswith("best trial high (mig = 0.3000")
    code, out, _ = best_lines(capsys, sweep, "--metric", "sap", "--top", "1")
    assert out[0] == "ranked by sap, higher is better" and out[2].split()[0] == "high"


def test_loss_ranks_lowest_first_and_mode_still_turns_a_metric_around(sweep, capsys):
    code, out, _ = best_lines(capsys, sweep)
    assert code == 0 and out[0] == "ranked by best_loss (loss), lower is better" and out[2].split()[0] == "low"
    code, out, _ = best_lines(capsys, sweep, "--metric", "mig", "--mode", "min")
    assert out[0] == "ranked by mig, lower is better (as --mode min asks; for mig higher is better)"
    assert out[2].split()[0] == "low"


def test_a_column_of_no_known_way_needs_mode(sweep, capsys):
    code, out, err = best_lines(capsys, sweep, "--metric", "epochs_trained")
    assert code == 2 and not out
    assert err.startswith("latentsweep best: --metric epochs_trained: which way it is better is not known")
    assert "--mode" in err and "mig" in err and len(err.splitlines()) == 1
    code, out, _ = best_lines(capsys, sweep, "--metric", "epochs_trained", "--mode", "max")
    assert code == 0 and out[2].split()[0] == "mid"


def test_pareto_metrics_without_modes_take_each_metrics_own_way(sweep, capsys):
    assert main(["best", sweep, "--pareto", "--metrics", "loss,mig"]) == 0
    assert "on best_loss (min), mig (max)" in capsys.readouterr().out


def test_one_list_gives_the_direction_of_every_score():
    for name in ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap", "modularity",
                 "explicitness", "beta_vae", "factor_vae", "udr", "probe_accuracy", "active_units"):  # fmt: skip
        assert metric_mode(name) == "max" and larger_is_better(name), name
    for name in ("loss", "best_loss", "val_recon", "val_kl", "train_total", "gaussian_tc"):
        assert metric_mode(name) == "min" and not larger_is_better(name), name
    assert metric_mode("epochs_trained") is None


def test_a_sweeps_metric_without_mode_ranks_its_own_way():
    assert make_settings("quick", {"metric": "mig"}, {"dataset": "shapes"}).mode == "max"
    assert make_settings("quick", {"metric": "mig", "mode": "min"}, {"dataset": "shapes"}).mode == "min"
    assert make_settings("quick", {"metrics": ("loss", "mig")}, {"dataset": "shapes"}).modes == ("min", "max")


def test_a_sweep_files_metric_without_goal_ranks_its_own_way():
    parsed = sweep_file.parse_text("metric: {name: mig}\nfixed: {dataset: shapes}\n", "study.yaml")
    assert SweepSettings.from_file(parsed, "study.yaml").mode == "max"
