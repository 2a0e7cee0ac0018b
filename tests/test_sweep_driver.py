"""The sweep's driver killed (SIGKILL) or interrupted (Ctrl-C) mid-sweep, then the same command again.

Each scenario runs the driver as its own process (that is what gets killed), with its own local Ray, in its own
folder. The scenario waits for trials.parquet to show a finished and an unfinished trial rather than sleeping a fixed
time. The selected scenarios run side by side, as independent sweeps on one machine would: each driver trains one
trial at a time on one core, so three at once take about half the time of three in a row on two cores. Each test
then waits for its own scenario alone: one that fails fails only its test.
"""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import optuna
import pandas as pd
import pytest

from tests.helpers.processes import kill_driver

pytestmark = pytest.mark.slow

# Each trial must outlast the driver's table-write spacing (a status change reaches storage within 5 s), so that a
# written table can hold a finished trial beside an unfinished one even on an idle machine: about 8 s a trial then.
FLAGS = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--seeds", "0,1,2,3", "--epochs", "4"]
FLAGS += ["--dataset", "shapes", "--image-size", "32", "--n-samples", "3000", "--max-concurrent", "1"]


def command(storage) -> list[str]:
    return [sys.executable, "-m", "vaemodels.cli", "sweep", *FLAGS, "--storage", str(storage), "--name", "driver"]


def start(storage) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_ADDRESS": ""}
    return subprocess.Popen(command(storage), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_partial_sweep(storage, driver: subprocess.Popen, timeout: float = 240) -> pd.DataFrame:
    """Poll trials.parquet until one trial is TERMINATED and another is not finished yet."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert driver.poll() is None, driver.stdout.read()
        try:
            table = pd.read_parquet(storage / "driver" / "trials.parquet")
        except (OSError, ValueError):
            table = None
        if table is not None and (table["status"] == "TERMINATED").any() and (table["status"] != "TERMINATED").any():
            return table
        time.sleep(0.2)
    raise AssertionError("the sweep never reached a finished and an unfinished trial")


def finished_histories(storage, table: pd.DataFrame) -> dict[str, list]:
    done = table[table["status"] == "TERMINATED"]
    return {
        row.trial_id: json.loads((storage / "driver" / row.last_checkpoint_path / "history.json").read_text())
        for row in done.itertuples()
    }


def rerun_and_check(storage, before: dict[str, list]) -> None:
    rerun = subprocess.run(command(storage), env={**os.environ, "RAY_ADDRESS": ""}, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "resuming sweep" in rerun.stdout
    table = pd.read_parquet(storage / "driver" / "trials.parquet")
    assert len(table) == 4 and table["trial_id"].is_unique and (table["status"] == "TERMINATED").all()
    assert (table["epochs_trained"] == 4).all()
    after = finished_histories(storage, table)
    for trial_id, history in before.items():  # finished trials were not retrained: identical histories
        assert after[trial_id] == history


def newest_summary(folder) -> dict | None:
    checkpoints = sorted(folder.glob("checkpoint_*/summary.json"))
    return json.loads(checkpoints[-1].read_text()) if checkpoints else None


def sigkill_then_resume(tmp_path) -> None:
    driver = start(tmp_path)
    try:
        wait_for_partial_sweep(tmp_path, driver)
    finally:
        kill_driver(driver)
    table = pd.read_parquet(tmp_path / "driver" / "trials.parquet").set_index("trial_id")
    started = [p for p in (tmp_path / "driver").iterdir() if p.is_dir() and (p / "params.json").exists()]
    # Every trial the killed driver had started has a row; finished ones are TERMINATED, the others are not.
    assert set(table.index) >= {p.name for p in started if newest_summary(p)}
    for trial_id, row in table.iterrows():
        summary = newest_summary(tmp_path / "driver" / trial_id)
        finished = summary is not None and summary["status"] == "TERMINATED"
        assert (row["status"] == "TERMINATED") == finished, (trial_id, row["status"], summary and summary["status"])
    rerun_and_check(tmp_path, finished_histories(tmp_path, table.reset_index()))
    # The Optuna study after the kill and the resume: every Tune trial once, finished, with its grid params.
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaemodels.cli",
            "dashboard",
            str(tmp_path / "driver"),
            "--export",
            str(tmp_path / "s.db"),
        ],
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    study = optuna.load_study(study_name="driver", storage=f"sqlite:///{tmp_path / 's.db'}")
    final = pd.read_parquet(tmp_path / "driver" / "trials.parquet")
    assert sorted(t.user_attrs["trial_id"] for t in study.trials) == sorted(final["trial_id"])
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert sorted(t.params["seed"] for t in study.trials) == [0, 1, 2, 3]


def sigkill_as_a_trial_starts(tmp_path) -> None:
    driver = start(tmp_path)
    sweep_dir = tmp_path / "driver"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:  # the second trial's folder appears when Tune starts it
            if sweep_dir.exists() and sum((p / "params.json").exists() for p in sweep_dir.iterdir()) >= 2:
                break
            assert driver.poll() is None, driver.stdout.read()
            time.sleep(0.05)
    finally:
        kill_driver(driver)
    rerun_and_check(tmp_path, {})
    table = pd.read_parquet(sweep_dir / "trials.parquet")
    folders = [p for p in sweep_dir.iterdir() if p.is_dir() and (p / "params.json").exists()]
    set_aside = {p.name for p in folders if (p / "abandoned.json").exists()}
    assert set(table["trial_id"]) == {p.name for p in folders} - set_aside  # resumed, or set aside and not counted


def ctrl_c_then_resume(tmp_path) -> None:
    driver = start(tmp_path)
    try:
        wait_for_partial_sweep(tmp_path, driver)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, output[-3000:]
    assert "run the same command again to resume" in output
    table = pd.read_parquet(tmp_path / "driver" / "trials.parquet")
    finished = table[table["status"] == "TERMINATED"]
    assert len(finished) >= 1 and finished["checkpoint_path"].notna().all() and finished["best_loss"].notna().all()
    assert len(table) <= 4 and table["trial_id"].is_unique
    rerun_and_check(tmp_path, finished_histories(tmp_path, table))


SCENARIOS = {
    "test_driver_killed_with_sigkill_leaves_a_true_table_and_the_same_command_resumes": sigkill_then_resume,
    "test_driver_killed_just_as_a_trial_starts_leaves_no_stray_row": sigkill_as_a_trial_starts,
    "test_ctrl_c_stops_gracefully_keeps_finished_trials_and_resumes": ctrl_c_then_resume,
}


@pytest.fixture(scope="module")
def running(request, tmp_path_factory) -> dict[str, Future]:
    """Every selected test's scenario, started at once in its own folder; a test name -> its scenario's future."""
    selected = [item.name for item in request.session.items if item.module is request.module]
    pool = ThreadPoolExecutor(max_workers=len(SCENARIOS))
    futures = {name: pool.submit(SCENARIOS[name], tmp_path_factory.mktemp(name[5:40])) for name in selected}
    yield futures
    pool.shutdown(wait=True)


def test_driver_killed_with_sigkill_leaves_a_true_table_and_the_same_command_resumes(running, request):
    running[request.node.name].result()


def test_driver_killed_just_as_a_trial_starts_leaves_no_stray_row(running, request):
    running[request.node.name].result()


def test_ctrl_c_stops_gracefully_keeps_finished_trials_and_resumes(running, request):
    running[request.node.name].result()
