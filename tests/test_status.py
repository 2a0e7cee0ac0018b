"""`latentsweep status`: counts, the best so far and an ETA, from trials.parquet alone (no Ray)."""

import pytest

from sweeps.settings import make_settings
from tests.helpers.tables import write_sweep_table
from vaemodels.cli import main

FINISHED = [("t1", 210.0, 10.0), ("t2", 190.0, 20.0), ("t3", 200.0, 30.0)]  # trial_id, best_loss, trial_seconds


def write_sweep(folder, rows, settings=None) -> None:
    write_sweep_table(folder, rows, settings or make_settings("quick", {"num_samples": 8}, {}))


def row(trial_id, status, best_loss=None, seconds=None, **extra):
    return {"trial_id": trial_id, "status": status, "best_loss": best_loss, "trial_seconds": seconds, "arch": "vae",
            "latent_dim": 4, "beta": 1.0, "recon": "bernoulli", "epochs_trained": 4, **extra}  # fmt: skip


def test_counts_best_and_eta_of_a_running_search(tmp_path, capsys):
    rows = [row(t, "TERMINATED", loss, seconds) for t, loss, seconds in FINISHED]
    rows += [row("t4", "RUNNING"), row("t5", "ERROR", error="boom")]
    write_sweep(tmp_path, rows)
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 trials of 8 planned" in out and "finished 3 · running 1 · errored 1" in out
    assert "best so far: t2, best_loss 190 (validation -ELBO (nats))" in out
    # 8 planned - 3 finished - 1 errored = 4 left, 1 at a time, 20 s each (the median of 10, 20, 30)
    assert "a trial takes 20 s (median of 3 finished); ETA 1 min 20 s for 4 left, 1 at a time" in out


def test_a_grid_counts_its_combinations_and_watch_ends_when_every_trial_is_done(tmp_path, capsys):
    grid = make_settings("quick", {"archs": ("vae",), "betas": (1.0, 4.0), "latent_dims": (2,)}, {})
    write_sweep(tmp_path, [row("a", "TERMINATED", 100.0, 5.0), row("b", "ERROR")], grid)
    assert main(["status", str(tmp_path), "--watch", "3600"]) == 0  # would sleep an hour if it did not stop
    out = capsys.readouterr().out
    assert "2 trials of 2 planned" in out and "every planned trial has ended" in out


def test_a_sweep_without_a_finished_trial_has_no_eta(tmp_path, capsys):
    write_sweep(tmp_path, [row("a", "RUNNING"), row("b", "RUNNING")])
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "finished 0 · running 2" in out and "8 left; no trial has finished yet, so no ETA" in out
    assert "best so far" not in out


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_missing_or_damaged_table_is_one_line_and_exit_2(tmp_path, capsys, damage):
    if damage == "damaged":
        (tmp_path / "trials.parquet").write_bytes(b"PAR1 not a table")
    assert main(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentsweep status: ") and "trials.parquet" in err[0]
