"""The sweep's driver killed (SIGKILL) or interrupted (Ctrl-C) mid-sweep, then the same command again.

Each test runs the driver as its own process (that is what gets killed), with its own local Ray. The test waits
for trials.parquet to show a finished and an unfinished trial rather than sleeping a fixed time.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

pytestmark = pytest.mark.slow

FLAGS = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--seeds", "0,1,2,3", "--epochs", "3"]
FLAGS += ["--dataset", "shapes", "--image-size", "32", "--n-samples", "600", "--max-concurrent", "1"]


def command(storage) -> list[str]:
    return [sys.executable, "-m", "sweeps.cli", "sweep", *FLAGS, "--storage", str(storage), "--name", "driver"]


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
    assert (table["epochs_trained"] == 3).all()
    after = finished_histories(storage, table)
    for trial_id, history in before.items():  # finished trials were not retrained: identical histories
        assert after[trial_id] == history


def test_driver_killed_with_sigkill_then_the_same_command_resumes(tmp_path):
    driver = start(tmp_path)
    family = []
    try:
        table = wait_for_partial_sweep(tmp_path, driver)
        before = finished_histories(tmp_path, table)
        family = psutil.Process(driver.pid).children(recursive=True)  # the driver's own Ray processes
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    for process in family:  # a SIGKILLed driver cannot stop its Ray; the test stops it by pid
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    rerun_and_check(tmp_path, before)


def test_ctrl_c_stops_gracefully_keeps_finished_trials_and_resumes(tmp_path):
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
