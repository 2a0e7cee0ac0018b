"""Test-wide settings and the fixtures that several test modules share.

Each costly thing is made once a test session and only read afterwards: a tiny real sweep (`sweep_results`), the
explorer serving it (`explorer_server`), tiny trained trials (`tiny_vae`, `finished_trials`), a local Ray
(`ray_session`) and an S3 server (`s3_bucket`). A test that changes one works on a copy (`results_copy`, or a copy
of its own). Plain helpers live in tests/helpers/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# RAY_AUTH_MODE is read when ray is imported; a token must exist or the GCS refuses to start: set both first.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", "latentsweep-tests-0123456789abcdef0123456789abcdef")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

from tests.helpers.processes import free_port
from tests.helpers.sweeps import copy_results, run_sweep
from tests.helpers.trials import train_tiny_trial, train_trial

REPO = Path(__file__).resolve().parent.parent
EXPLORER_START_SECONDS = 150  # the CLI waits up to 120 s for its first page


# ---- the command line


@pytest.fixture
def cli(capsys):
    """`latentsweep ARGS` in this process: its exit code, stdout and stderr."""
    from vaemodels.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


# ---- Ray and storage servers


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray of 2 CPUs, started by the first module that asks and kept for the next ones (ray.init costs
    5-9 s); a module that needs another Ray (test_cluster.py) shuts it down, and the next module starts it again."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield


@pytest.fixture(scope="session", autouse=True)
def _stop_ray_at_the_end():
    yield
    if "ray" in sys.modules and sys.modules["ray"].is_initialized():
        sys.modules["ray"].shutdown()


@pytest.fixture(scope="session")
def s3_bucket():
    """s3://BUCKET on a moto server of this session's own; the AWS variables point every client at it."""
    from tests.helpers.s3 import moto_bucket

    boto3 = pytest.importorskip("boto3")
    with moto_bucket(boto3) as bucket:
        yield bucket


# ---- a tiny real sweep and the explorer serving it


@pytest.fixture(scope="session")
def sweep_results(tmp_path_factory) -> Path:
    """A results folder holding one sweep (`sweepA`) of six tiny trained trials; do not modify it."""
    root = tmp_path_factory.mktemp("results")
    run_sweep(root)
    return root


@pytest.fixture
def results_copy(sweep_results, tmp_path) -> Path:
    """A private copy of `sweep_results`, for a test that damages or extends it."""
    return copy_results(sweep_results, tmp_path / "results")


@pytest.fixture(scope="session")
def explorer_server(sweep_results, tmp_path_factory):
    """`latentsweep explore RESULTS --port P` in a subprocess, serving `sweep_results` to every browser test; each
    test opens its own page (its own session), so none sees another's state. Stopped by its handle at the end."""
    port, logs = free_port(), tmp_path_factory.mktemp("explorer")
    log_path = logs / "server.log"
    command = [sys.executable, "-m", "vaemodels.cli", "explore", str(sweep_results), "--port", str(port)]
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            deadline = time.monotonic() + EXPLORER_START_SECONDS
            while "serving" not in log_path.read_text():  # printed once the page answers
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, f"the explorer printed no URL in {EXPLORER_START_SECONDS} s"
                time.sleep(0.3)
            assert f"localhost:{port}/" in log_path.read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:  # the URL works at once
                assert page.status == 200
            yield f"http://127.0.0.1:{port}/"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# ---- tiny trained trials, without Ray


@pytest.fixture(scope="session")
def tiny_vae(tmp_path_factory):
    """A beta-VAE (beta 1) with 4 latent dimensions on 800 32x32 shapes, trained for 2 epochs: 160 validation
    samples in latents.parquet. Read-only: tests that change its folder copy it first."""
    return train_tiny_trial(tmp_path_factory.mktemp("tiny") / "vae", arch="vae", beta=1.0)


@pytest.fixture(scope="session")
def finished_trials(tmp_path_factory) -> Path:
    """A sweep folder without Ray's files: two finished trials (`trial0`, `trial1`: seeds 0 and 1) and one
    stopped after its first epoch (`trial2`). Read-only: use `trials_copy`."""
    sweep = tmp_path_factory.mktemp("finished") / "sweep"
    for seed in (0, 1):
        train_trial(sweep / f"trial{seed}", seed)
    train_trial(sweep / "trial2", 2, epochs=1)
    return sweep


@pytest.fixture
def trials_copy(finished_trials, tmp_path) -> Path:
    """A private copy of `finished_trials`."""
    return Path(shutil.copytree(finished_trials, tmp_path / "sweep"))
