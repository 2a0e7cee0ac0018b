"""Faults and resume: nothing finished is ever lost.

Faults come from the test's own trainable (tests/helpers/faults.py: run_trial wrapped, passed to run_sweep),
matched on a trial's seed so one grid holds healthy and faulty trials side by side; the product has no test hook. Sweeps
without faults run through the real `latentsweep sweep` command. These tests share one in-process Ray; the
driver-kill and Ctrl-C tests live in test_sweep_driver.py because they need a driver process of their own to kill.
"""

import json
import subprocess
import threading
import time

import pandas as pd
import pytest

from tests.helpers import faults

pytestmark = pytest.mark.slow

TINY = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--dataset", "shapes", "--image-size", "32"]
TINY += ["--n-samples", "400", "--max-concurrent", "2"]
RAISES, DIVERGES, DIES = 7, 8, 9  # seeds whose trials get a fault


@pytest.fixture(scope="module", autouse=True)
def _faults_pickled_by_value():
    unregister = faults.register_with_ray()  # before any sweep pickles a FaultyTrial
    yield
    unregister()


@pytest.fixture(scope="module")
def faulty(ray_session, tmp_path_factory) -> faults.FaultyTrial:
    marker = tmp_path_factory.mktemp("fault") / "killed-once"
    return faults.FaultyTrial({RAISES: faults.RAISE, DIVERGES: faults.DIVERGE, DIES: faults.KILL_ONCE}, marker)


def sweep(storage, name: str, *flags: str) -> int:
    from vaemodels.cli import main

    return main(["sweep", *TINY, "--storage", str(storage), "--name", name, *flags])


def faulty_sweep(trainable: faults.FaultyTrial, storage, name: str, *flags: str) -> int:
    return faults.sweep_with(trainable, [*TINY, "--storage", str(storage), "--name", name, *flags])


def table(storage, name: str) -> pd.DataFrame:
    return pd.read_parquet(storage / name / "trials.parquet").set_index("seed")


def history(storage, name: str, row) -> list[dict]:
    return json.loads((storage / name / row["last_checkpoint_path"] / "history.json").read_text())


def test_failing_and_diverging_trials_leave_the_others_alone_and_resume_keeps_them(faulty, tmp_path, capsys):
    seeds = f"0,{RAISES},{DIVERGES}"
    assert faulty_sweep(faulty, tmp_path, "mixed", "--seeds", seeds, "--epochs", "2") == 0
    out = capsys.readouterr().out
    assert "2 trials finished, 1 errored" in out and "injected failure" in out
    rows = table(tmp_path, "mixed")
    assert rows.loc[RAISES, "status"] == "ERROR" and "injected failure" in rows.loc[RAISES, "error"]
    assert rows.loc[0, "status"] == "TERMINATED" and rows.loc[0, "epochs_trained"] == 2
    assert rows.loc[DIVERGES, "status"] == "TERMINATED" and bool(rows.loc[DIVERGES, "diverged"])
    assert not rows.loc[0, "diverged"] and not rows.loc[DIVERGES, "stopped_early"]
    before = {seed: history(tmp_path, "mixed", rows.loc[seed]) for seed in (0, DIVERGES)}

    assert faulty_sweep(faulty, tmp_path, "mixed", "--seeds", seeds, "--epochs", "2") == 0  # the same sweep resumes
    again = table(tmp_path, "mixed")
    assert len(again) == 3 and again.loc[RAISES, "status"] == "ERROR"  # retried (resume_errored), failed again
    for seed in (0, DIVERGES):  # not retrained: the very same history, timings included
        assert history(tmp_path, "mixed", again.loc[seed]) == before[seed]


def test_a_sweep_whose_every_trial_fails_exits_non_zero(faulty, tmp_path, capsys):
    assert faulty_sweep(faulty, tmp_path, "doomed", "--seeds", str(RAISES), "--epochs", "1") == 1
    assert "0 trials finished, 1 errored" in capsys.readouterr().out


def test_a_trial_whose_process_dies_restarts_from_its_last_checkpoint(faulty, tmp_path):
    assert faulty_sweep(faulty, tmp_path, "dies", "--seeds", str(DIES), "--epochs", "3", "--max-failures", "1") == 0
    assert faulty.marker.exists()  # the worker really was killed once
    row = table(tmp_path, "dies").loc[DIES]
    assert row["status"] == "TERMINATED"
    epochs = [h["epoch"] for h in history(tmp_path, "dies", row)]
    assert epochs == [1, 2, 3]  # epoch 1 came from the checkpoint, not trained twice
    assert (tmp_path / "dies" / row["trial_id"] / "error.txt").exists()  # the first attempt's, still there

    from vaemodels.cli import main

    (tmp_path / "dies" / "trials.parquet").unlink()
    assert main(["metrics", str(tmp_path / "dies"), "--only", "udr"]) == 0  # rebuilt from the trial folders
    rebuilt = table(tmp_path, "dies").loc[DIES]
    assert rebuilt["status"] == "TERMINATED" and rebuilt["error"] is None and rebuilt["epochs_trained"] == 3


def test_finished_trials_get_dci_while_others_train_and_keep_only_their_best(ray_session, tmp_path):
    """One trial at a time leaves a CPU free: each finished trial's DCI task runs beside the next trial."""
    sweep_dir = tmp_path / "alongside"
    seen_during = []

    def watch():
        deadline = time.time() + 120
        while time.time() < deadline and not seen_during:
            try:
                rows = pd.read_parquet(sweep_dir / "trials.parquet")
            except (OSError, ValueError):
                rows = None
            if rows is not None and rows["dci_disentanglement"].notna().any() and (rows["status"] == "RUNNING").any():
                seen_during.append(rows)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    # Trials of several seconds: a finished trial's DCI and scores (several seconds too) land while the next trains.
    flags = ["--seeds", "0,1,2,3", "--epochs", "4", "--n-samples", "3000", "--max-concurrent", "1"]
    flags += ["--dci-samples", "200", "--keep", "best"]
    assert sweep(tmp_path, "alongside", *flags) == 0
    watcher.join()
    assert seen_during, "no trial's DCI reached trials.parquet while another trial was still training"
    rows = table(tmp_path, "alongside")
    assert rows["dci_disentanglement"].notna().all() and rows["finalized"].all() and rows["trimmed"].all()
    for row in rows.itertuples():
        folder = sweep_dir / row.trial_id
        assert [p.name for p in folder.glob("checkpoint_*")] == [row.checkpoint_path.split("/")[-1]]
        assert not list(folder.glob("checkpoint_*/optimizer.pt")) and row.last_checkpoint_path == row.checkpoint_path
        summary = json.loads((sweep_dir / row.checkpoint_path / "summary.json").read_text())
        assert summary["status"] == "TERMINATED" and summary["dci_disentanglement"] == row.dci_disentanglement


def test_gpus_on_a_cluster_without_gpus_is_a_clear_error_before_any_trial(ray_session, tmp_path, capsys):
    assert sweep(tmp_path, "gpu", "--seeds", "0", "--epochs", "1", "--gpus-per-trial", "0.5") == 2
    assert "no node of this Ray cluster has a GPU" in capsys.readouterr().err
    assert not any(p.is_dir() for p in (tmp_path / "gpu").iterdir())  # no trial started


def test_diverged_trials_are_failures_for_optuna():
    import optuna

    from sweeps.settings import make_settings
    from sweeps.space import SearchSpace
    from sweeps.tuner import SweepSearch

    search = SweepSearch(space=SearchSpace(make_settings("quick", {}, {})), metric="loss", mode="min")
    for trial_id, result in (("a", {"loss": 100.0, "diverged": False}), ("b", {"loss": 120.0, "diverged": True})):
        search.suggest(trial_id)
        search.on_trial_complete(trial_id, result=result)
    states = [t.state for t in search._ot_study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]


@pytest.fixture
def mounted(tmp_path):
    """A storage folder that the test can make read-only (a bind mount: root ignores permission bits)."""
    folder = tmp_path / "storage"
    folder.mkdir()
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode != 0:
        pytest.skip("bind mounts need root (CI runs as root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode},bind", str(folder)], check=True)


def test_storage_that_becomes_unwritable_stops_the_sweep_and_a_rerun_resumes(ray_session, mounted, capsys):
    flags = ["--seeds", "0,1,2,3", "--epochs", "3", "--max-concurrent", "1"]

    def break_storage_after_first_trial():
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if (pd.read_parquet(mounted / "disk" / "trials.parquet")["status"] == "TERMINATED").any():
                    remount(mounted, "ro")
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=break_storage_after_first_trial)
    watcher.start()
    code = sweep(mounted, "disk", *flags)
    watcher.join()
    err = capsys.readouterr().err
    assert code == 1 and "could not be written" in err and "run the same command again to resume" in err
    finished = table(mounted, "disk")
    finished = finished[finished["status"] == "TERMINATED"]
    assert len(finished) >= 1
    kept = {seed: history(mounted, "disk", row) for seed, row in finished.iterrows()}

    remount(mounted, "rw")
    assert sweep(mounted, "disk", *flags) == 0
    rows = table(mounted, "disk")
    assert len(rows) == 4 and (rows["status"] == "TERMINATED").all()
    for seed, before in kept.items():
        assert history(mounted, "disk", rows.loc[seed]) == before
