"""A sweep on S3, end to end, against a real S3-protocol server on 127.0.0.1 (moto's server mode).

The sweep's driver runs as its own process (SIGKILLed mid-sweep, then run again), reaching the server through the
AWS_ENDPOINT_URL variable that README documents; `best` and the explorer's store read the results from there.
"""

import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.helpers.processes import kill_driver

pytestmark = pytest.mark.slow

FLAGS = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--seeds", "0,1,2", "--epochs", "2"]
FLAGS += ["--dataset", "shapes", "--image-size", "32", "--n-samples", "300", "--max-concurrent", "1"]
FLAGS += ["--dci-samples", "100", "--name", "ons3"]


def sweep_command(storage: str) -> list[str]:
    return [sys.executable, "-m", "vaemodels.cli", "sweep", *FLAGS, "--storage", storage]


def table(uri: str):
    import pyarrow.fs as pafs

    fs, path = pafs.FileSystem.from_uri(f"{uri}/trials.parquet")
    return pq.read_table(path, filesystem=fs).to_pandas()


def test_a_sweep_on_s3_resumes_after_a_driver_sigkill_and_reads_back(s3_bucket, tmp_path):
    storage = f"{s3_bucket}/results"
    sweep_uri = f"{storage}/ons3"
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    driver = subprocess.Popen(sweep_command(storage), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            assert driver.poll() is None, driver.stdout.read().decode()[-3000:]
            try:
                statuses = set(table(sweep_uri)["status"])
            except (OSError, ValueError):
                statuses = set()
            if "TERMINATED" in statuses and statuses - {"TERMINATED"}:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the S3 sweep never showed a finished and an unfinished trial")
    finally:
        kill_driver(driver)

    rerun = subprocess.run(sweep_command(storage), env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "resuming sweep" in rerun.stdout and "3 trials finished, 0 errored, 3 in all" in rerun.stdout
    rows = table(sweep_uri)
    assert len(rows) == 3 and rows["trial_id"].is_unique and (rows["status"] == "TERMINATED").all()
    assert rows["dci_disentanglement"].notna().all()

    best = subprocess.run([sys.executable, "-m", "vaemodels.cli", "best", sweep_uri], capture_output=True, text=True)
    winner = rows.loc[rows["best_loss"].idxmin(), "trial_id"]
    assert best.returncode == 0 and f"best trial {winner}" in best.stdout, best.stderr
    assert f"{sweep_uri}/{winner}/" in best.stdout

    from explorer.store import ResultsStore

    store = ResultsStore(sweep_uri)
    assert store.sweeps() == ["ons3"] and len(store.trials("ons3")) == 3
    latents = store.latents("ons3", winner, ["sample", "mu_0", "mu_1"])
    assert len(latents) == 60 and latents["sample"].is_unique  # a fifth of 300 samples validate
    assert store.trial("ons3", winner).config.model.latent_dim == 2
