"""A sweep's own dataset file: recorded in the sweep (path, size, sha256) and registered again from the record by
every later command and Ray worker, with one line when the file moved or changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from sweeps import sweep_file
from sweeps.run import prepare_storage, settings_from_args, stored_settings
from sweeps.settings import SettingsError, make_settings
from sweeps.trial import registering
from tests.helpers.datasets import write_factor_grid
from vaemodels import (
    CommandParser,
    ConfigError,
    DatasetFile,
    DatasetFileError,
    TrialConfig,
    register_dataset_file,
    resolve,
)
from vaemodels.dataset_file import use_recorded_dataset
from vaemodels.dataset_registry import DATASETS, FACTOR_NPZ_ENV, UNAVAILABLE

REPO = Path(__file__).resolve().parents[1]
MISSING = "missing (copy it back, or resume with --dataset-file NEW_PATH)"
GRID = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--epochs", "1"]


@pytest.fixture(autouse=True)
def registry():
    """DATASETS and UNAVAILABLE as they were before the test: a command's registrations are its process's own."""
    datasets, unavailable = dict(DATASETS), dict(UNAVAILABLE)
    yield
    DATASETS.clear()
    DATASETS.update(datasets)
    UNAVAILABLE.clear()
    UNAVAILABLE.update(unavailable)


def sweep_args(*flags: str):
    from sweeps.run import add_sweep_flags

    parser = CommandParser(prog="latentsweep sweep")
    add_sweep_flags(parser)
    return parser.parse_args(list(flags))


def rewrite(path: Path, grid: tuple[int, ...]) -> None:
    """The file replaced by another factor grid, so that its content (and here its size) differ."""
    path.unlink()
    write_factor_grid(path, grid)


# ---- the record and its lines


def test_a_record_says_what_differs_when_its_file_changed_or_moved(tmp_path):
    path = write_factor_grid(tmp_path / "myshapes.npz")
    record = DatasetFile.measure(path)
    assert (record.name, record.path, record.size) == ("myshapes", str(path), path.stat().st_size)
    assert record.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and record.problem() is None
    content = bytearray(path.read_bytes())
    content[-30] ^= 1  # same size, other bytes
    path.write_bytes(bytes(content))
    assert record.problem() == "fingerprint differs (sha256): same size, other content"
    path.write_bytes(bytes(content) + b"\0")
    assert record.problem() == f"size {record.size:,} bytes, now {record.size + 1:,}"
    path.unlink()
    with pytest.raises(DatasetFileError) as missing:
        register_dataset_file(record)
    assert str(missing.value).startswith(f"dataset 'myshapes': recorded file {path}: missing")


def test_a_moved_file_recorded_in_sweep_yaml_fails_only_what_needs_its_images_with_its_line(tmp_path):
    path = write_factor_grid(tmp_path / "data" / "tiny.npz")
    settings = make_settings("quick", {"dataset_file": DatasetFile.measure(path)}, {"dataset": "tiny"})
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.yaml").write_text(sweep_file.render(settings.to_document()))
    del DATASETS["tiny"]  # as a new process: nothing registered it
    assert use_recorded_dataset(resolve(sweep)) == settings.dataset_file and DATASETS["tiny"].data_file == str(path)
    del DATASETS["tiny"]
    path.rename(tmp_path / "moved.npz")
    lines: list[str] = []
    use_recorded_dataset(resolve(sweep), warn=lines.append)
    assert lines == [
        f"dataset 'tiny': recorded file {path}: missing (copy it back, or resume with --dataset-file NEW_PATH)"
    ]
    with pytest.raises(ConfigError, match=f"dataset='tiny' is unavailable: recorded file {path}: missing"):
        TrialConfig.from_dict({"dataset": "tiny"})


def test_a_worker_registers_the_file_before_its_trial_and_fails_with_the_line_when_it_cannot(tmp_path):
    path = write_factor_grid(tmp_path / "tiny.npz")
    record = DatasetFile.measure(path)
    seen = []

    def trainable(flat, threads=1, gpus=0.0):
        seen.append(TrialConfig.from_dict(flat).channels)

    wrapped = registering(trainable, record)
    assert wrapped.__name__ == "trainable" and registering(trainable, None) is trainable  # Tune names trials by it
    wrapped({"dataset": "tiny"}, threads=1, gpus=0.0)
    assert seen == [1] and DATASETS["tiny"].data_file == str(path)
    del DATASETS["tiny"]
    path.unlink()
    with pytest.raises(DatasetFileError, match=f"recorded file {path}: missing"):
        wrapped({"dataset": "tiny"})
    assert seen == [1]


# ---- settings: the flag, the sweep file, resuming


def test_an_unknown_dataset_names_the_flag_or_key_and_how_to_register_a_file(tmp_path, cli):
    done = cli("sweep", "--dataset", "myshapes", "--betas", "1.0", "--storage", str(tmp_path))
    assert done.returncode == 2 and "--betas" not in done.stderr
    assert done.stderr.startswith("latentsweep sweep: --dataset myshapes: dataset='myshapes' is unknown; registered: ")
    assert "--dataset-file PATH.npz" in done.stderr and f"{FACTOR_NPZ_ENV}=myshapes=PATH.npz" in done.stderr
    config = tmp_path / "own.yaml"
    config.write_text("search: grid\nparameters:\n  beta: {values: [1.0]}\nfixed:\n  dataset: myshapes\n")
    with pytest.raises(SettingsError, match=rf"^{config}:5: fixed.dataset: dataset='myshapes' is unknown; registered"):
        make_settings(config=config)


def test_a_sweep_file_names_its_file_relative_to_itself_and_sweep_yaml_keeps_the_record(tmp_path):
    path = write_factor_grid(tmp_path / "data" / "tiny.npz")
    config = tmp_path / "own.yaml"
    config.write_text("search: grid\nparameters:\n  beta: {values: [1.0]}\nfixed:\n  dataset: {file: data/tiny.npz}\n")
    settings = make_settings(config=config)
    assert settings.fixed["dataset"] == "tiny" and settings.dataset_file == DatasetFile.measure(path)
    stored = sweep_file.parse_text(sweep_file.render(settings.to_document()), "sweep.yaml")
    assert stored.values["dataset_file"] == settings.dataset_file  # read back as recorded, not measured again
    named = config.read_text().replace("{file: data/tiny.npz}", "{file: data/tiny.npz, name: mine}")
    config.write_text(named)
    assert make_settings(config=config).fixed["dataset"] == "mine"
    config.write_text(named.replace("data/tiny.npz", "data/none.npz"))
    with pytest.raises(SettingsError, match=rf"^{config}:5: fixed.dataset: file {tmp_path}/data/none.npz: no such"):
        make_settings(config=config)


def test_a_resume_may_point_to_a_moved_identical_file_and_refuses_other_content(tmp_path, capsys):
    path = write_factor_grid(tmp_path / "a" / "tiny.npz")
    flags = [*GRID, "--storage", str(tmp_path / "results"), "--name", "own", "--dataset", "mine"]
    settings, options = settings_from_args(sweep_args(*flags, "--dataset-file", str(path)))
    sweep = prepare_storage(settings, options)
    moved = tmp_path / "b" / "tiny.npz"
    moved.parent.mkdir()
    shutil.move(path, moved)
    settings, options = settings_from_args(sweep_args(*flags, "--dataset-file", str(moved)))
    prepare_storage(settings, options)
    assert f"the recorded file {path} is now read from {moved} (same size and sha256)" in capsys.readouterr().out
    assert stored_settings(sweep).dataset_file == DatasetFile.measure(moved, "mine")
    rewrite(moved, (3, 4, 4))
    settings, options = settings_from_args(sweep_args(*flags, "--dataset-file", str(moved)))
    with pytest.raises(
        SettingsError, match=r"other settings \(fixed.dataset.size: stored \d+, now \d+; fixed.dataset.sha"
    ):
        prepare_storage(settings, options)


# ---- a real sweep, read back by every command in processes that never saw the file's registration


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


COMMANDS = """
import json, sys
from vaemodels.cli import main
for command in json.loads(sys.argv[1]):
    if main(command) != 0:
        sys.exit(f"{command[0]} failed")
"""
STORE_CHECK = """
import sys
from explorer.store import ResultsStore
store = ResultsStore(sys.argv[1])
[name] = store.sweeps()
trial_id = store.trials(name)["trial_id"].iloc[0]
shown = store.reconstructions(name, trial_id, count=3)
print(store.trial(name, trial_id).config.channels, shown.originals.shape, shown.originals_error)
"""


@pytest.mark.slow
def test_a_sweep_of_a_dataset_file_is_read_back_without_the_variable(tmp_path):
    path = write_factor_grid(tmp_path / "data" / "tiny.npz")
    env = {k: v for k, v in os.environ.items() if k != FACTOR_NPZ_ENV} | {"RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    storage = tmp_path / "results"
    flags = [*GRID, "--dci-samples", "0", "--max-concurrent", "1", "--storage", str(storage), "--name", "own"]
    done = run("-m", "vaemodels.cli", "sweep", "--dataset-file", str(path), *flags, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    sweep, exported = storage / "own", tmp_path / "exported"
    recorded = {"file": str(path), "name": "tiny", "size": path.stat().st_size}
    recorded["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    assert yaml.safe_load((sweep / "sweep.yaml").read_text())["fixed"]["dataset"] == recorded

    metadata = json.loads(pq.read_schema(sweep / "trials.parquet").metadata[b"settings"])
    assert metadata["fixed"]["dataset"] == recorded
    assert pd.read_parquet(sweep / "trials.parquet")["dataset"][0] == "tiny"

    commands = [["study", str(sweep), "--out", str(tmp_path / "study")]]
    commands.append(["best", str(sweep), "--export", str(exported)])
    done = run("-c", COMMANDS, json.dumps(commands), env=env)  # one process for both: each one imports torch
    assert done.returncode == 0 and (tmp_path / "study" / "report.md").exists(), done.stderr
    assert (exported / "model.pt").exists()  # best --export loads the model, which needs the dataset registered
    store = run("-c", STORE_CHECK, str(sweep), env=env)
    assert store.stdout.split("\n")[0] == "1 (3, 1, 16, 16) None", store.stderr
    for name in ("trials.parquet", "trials.meta.json"):  # a rebuild from the trial folders keeps the record
        (sweep / name).unlink()
    metrics = run("-m", "vaemodels.cli", "metrics", str(sweep), "--only", "sap", env=env)
    assert metrics.returncode == 0, metrics.stderr
    assert 0.0 <= pd.read_parquet(sweep / "trials.parquet")["sap"][0] <= 1.0

    path.rename(tmp_path / "moved.npz")  # moved: what needs the images says where the file was
    best = run("-m", "vaemodels.cli", "best", str(sweep), "--export", str(tmp_path / "again"), env=env)
    line = f"dataset 'tiny': recorded file {path}: {MISSING}"
    assert best.returncode == 1 and f"warning: {line}" in best.stderr and "Traceback" not in best.stderr
