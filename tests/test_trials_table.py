"""trials.parquet without Ray: rows from the trial summaries, statuses decided right, old folders, damaged files.

The sweep folder comes from real tiny trainings (`finished_trials` in conftest.py: `fit` writing the trial folder
a sweep trial writes); the files Ray would add (error.txt, experiment_state-*.json) are written by the tests where a
case needs them.
"""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from vaemodels import trial_folder as tf
from vaemodels.storage import resolve
from vaemodels.table_rebuild import folder_row, rebuild_trials_table
from vaemodels.trials_table import RowTable, write_trials_table
from vaemodels.tune_state import parse_experiment_state

# DCI on the 40 validation rows of these tiny trials: sklearn notes that 32 position classes are many for them.
pytestmark = pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")


@pytest.fixture
def sweep(trials_copy):
    """A private copy of the session's `finished_trials`: trial0 and trial1 finished, trial2 stopped after one epoch."""
    return trials_copy


def write_state(sweep, statuses: dict[str, str]) -> None:
    """An experiment_state file in ray 2.60's layout (what Tune's TuneController.save_to_dir writes)."""
    run = json.dumps({"error_filename": None})
    trial_data = [
        [json.dumps({"trial_id": name, "status": status, "relative_logdir": name}), run]
        for name, status in statuses.items()
    ]
    (sweep / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"trial_data": trial_data}))


def test_rows_come_from_the_newest_summary_with_paths_relative_to_the_sweep(sweep):
    frame = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    assert set(frame.index) == {"trial0", "trial1", "trial2"}
    row = frame.loc["trial0"]
    assert row["status"] == "TERMINATED" and row["epochs_trained"] == 2 and not row["stopped_early"]
    history = json.loads((sweep / row["last_checkpoint_path"] / tf.HISTORY_FILE).read_text())
    assert row["best_loss"] == min(h["loss"] for h in history)
    assert row["checkpoint_path"] == f"trial0/{tf.checkpoint_name(row['best_epoch'])}"
    assert (sweep / row["latents_path"]).exists() and 0 <= row["mig"] <= 1
    assert frame.loc["trial2", "status"] == "RUNNING"  # unfinished, and no word from Tune: still running


def test_a_retried_trial_that_finished_is_terminated_whatever_its_old_error_txt(sweep):
    error = sweep / "trial0" / tf.RAY_ERROR_FILE
    error.write_text("Traceback...\nray.exceptions.ActorDiedError: the first attempt's worker died")
    os.utime(error, ns=(1, 1))  # the first attempt failed long before the retry finished
    assert folder_row(resolve(sweep / "trial0"))["status"] == "TERMINATED"


def test_an_error_newer_than_the_last_summary_is_an_error(sweep):
    (sweep / "trial2" / tf.RAY_ERROR_FILE).write_text("Traceback...\nRuntimeError: out of memory")
    row = folder_row(resolve(sweep / "trial2"))
    assert row["status"] == "ERROR" and row["error"] == "RuntimeError: out of memory"


FAILED_ONCE = "Failure # 1 (occurred at 2026-12-07_10-00-00)\nRuntimeError: out of memory\n"


@pytest.mark.parametrize("error_time", ["older", "same", "newer"])
def test_error_or_not_is_read_from_the_counts_not_the_times(sweep, error_time):
    """attempt.json against error.txt's failure count decides, whatever the files' times say (a bucket's sync
    uploads an old error.txt again, with a new time, and its times have one-second resolution)."""
    trial = sweep / "trial2"  # stopped after its first epoch: not finished
    summary = trial / tf.checkpoint_name(1) / tf.SUMMARY_FILE
    (trial / tf.RAY_ERROR_FILE).write_text(FAILED_ONCE)
    offset = {"older": -(10**9), "same": 0, "newer": 10**9}[error_time]
    at = summary.stat().st_mtime_ns + offset
    os.utime(trial / tf.RAY_ERROR_FILE, ns=(at, at))
    (trial / tf.ATTEMPT_FILE).write_text('{"attempt": 2}')  # failed once, then retried: the retry has not failed
    assert folder_row(resolve(trial))["status"] != "ERROR"
    (trial / tf.ATTEMPT_FILE).write_text('{"attempt": 1}')  # the one attempt there was failed
    assert folder_row(resolve(trial))["status"] == "ERROR"


def test_an_error_txt_uploaded_again_after_the_summary_on_a_bucket_is_not_an_error(sweep, s3_bucket):
    root = resolve(f"{s3_bucket}/rebuild")
    trial = root.join("trial2")
    for path in sorted((sweep / "trial2").rglob("*")):
        if path.is_file():
            trial.join(*path.relative_to(sweep / "trial2").parts).write_bytes(path.read_bytes())
    trial.join(tf.ATTEMPT_FILE).write_text('{"attempt": 2}')
    trial.join(tf.RAY_ERROR_FILE).write_text(FAILED_ONCE)  # the driver's sync: the old error, uploaded last
    assert folder_row(trial)["status"] != "ERROR"


def test_tune_state_decides_only_what_the_folders_cannot(sweep):
    write_state(sweep, {"trial0": "PENDING", "trial1": "TERMINATED", "trial2": "TERMINATED"})
    (sweep / "trial3").mkdir()
    shutil.copytree(sweep / "trial2" / tf.checkpoint_name(1), sweep / "trial3" / tf.checkpoint_name(1))
    frame = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    assert frame.loc["trial0", "status"] == "TERMINATED"  # its summary says finished; Tune's state lagged
    assert frame.loc["trial2", "status"] == "TERMINATED" and frame.loc["trial2", "stopped_early"]  # ASHA
    assert "trial3" not in frame.index  # Tune never recorded it: a driver crashed as it started


def test_a_folder_set_aside_is_not_a_row(sweep):
    (sweep / "trial1" / tf.ABANDONED_FILE).write_text("{}")
    assert set(rebuild_trials_table(resolve(sweep))["trial_id"]) == {"trial0", "trial2"}


def test_the_parser_reads_ray_2_60_experiment_state_and_refuses_other_layouts():
    trial = {"trial_id": "a", "status": "ERROR", "relative_logdir": "a_1", "config": {}}
    text = json.dumps({"trial_data": [[json.dumps(trial), json.dumps({"error_filename": "error.txt"})]]})
    state = parse_experiment_state(text)["a_1"]
    assert state.status == "ERROR" and state.error
    with pytest.raises(KeyError):
        parse_experiment_state(json.dumps({"trials": []}))


def test_old_layout_without_summaries_rebuilds_the_same_rows(sweep):
    new = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    for config in sweep.glob(f"*/{tf.CHECKPOINT_PREFIX}*/{tf.CONFIG_FILE}"):  # what the first release wrote
        (config.parent / tf.SUMMARY_FILE).unlink()
        config.write_text(json.dumps({**json.loads(config.read_text()), "schema_version": 1}))
    old = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    columns = ["best_loss", "best_epoch", "epochs_trained", "checkpoint_path", "latents_path", "mig", "active_units"]
    pd.testing.assert_frame_equal(old.loc[["trial0", "trial1"], columns], new.loc[["trial0", "trial1"], columns])
    assert (old.loc[["trial0", "trial1"], "status"] == "TERMINATED").all()


def test_best_with_no_finished_trial_says_so_and_exits_1(sweep, cli):
    for name in ("trial0", "trial1"):
        shutil.rmtree(sweep / name)
    done = cli("best", str(sweep))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "no trial has finished yet (1 trials: 1 RUNNING)" in done.stderr


def test_a_truncated_trials_parquet_is_rebuilt_with_one_warning(sweep, cli):
    frame = rebuild_trials_table(resolve(sweep))
    write_trials_table(resolve(sweep), frame, {})
    table = sweep / "trials.parquet"
    truncated = table.read_bytes()[:200]
    table.write_bytes(truncated)
    for command, written in ((("best", str(sweep)), False), (("metrics", str(sweep), "--dci-samples", "100"), True)):
        done = cli(*command)
        assert done.returncode == 0, done.stderr
        warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and "trials.parquet is not a Parquet table" in warnings[0]
        assert "Traceback" not in done.stderr
        if written:  # metrics holds the sweep: the rebuild is written back whole, the damaged file kept aside
            assert len(pd.read_parquet(table)) == 3
            assert [p.read_bytes() for p in sweep.glob("trials.parquet.damaged-*")] == [truncated]
        else:  # best only reads: the rebuild stays in memory
            assert table.read_bytes() == truncated


def test_damaged_files_mark_their_trial_and_the_others_still_count(sweep, cli):
    frame = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    model = sweep / frame.loc["trial0", "checkpoint_path"] / tf.MODEL_FILE
    model.write_bytes(model.read_bytes()[:1000])
    latents = sweep / frame.loc["trial1", "latents_path"]
    latents.write_bytes(latents.read_bytes()[:300])

    best = cli("best", str(sweep))
    assert best.returncode == 1, best.stderr  # both finished trials are damaged: none to rank
    assert f"damaged trial trial0: {model} is damaged" in best.stderr
    assert f"damaged trial trial1: {latents} is damaged" in best.stderr
    assert "Traceback" not in best.stderr

    metrics = cli("metrics", str(sweep), "--dci-samples", "100")
    assert metrics.returncode == 0 and "Traceback" not in metrics.stderr
    assert "damaged trial trial0" in metrics.stderr and "damaged trial trial1" in metrics.stderr


def test_metrics_goes_on_past_a_damaged_trial(sweep, cli):
    frame = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    latents = sweep / frame.loc["trial1", "latents_path"]
    latents.write_bytes(latents.read_bytes()[:300])
    done = cli("metrics", str(sweep), "--dci-samples", "100")
    assert done.returncode == 0 and f"damaged trial trial1: {latents} is damaged" in done.stderr
    table = pd.read_parquet(sweep / "trials.parquet").set_index("trial_id")
    assert 0 <= table.loc["trial0", "dci_disentanglement"] <= 1  # the healthy trial got its DCI
    assert table.loc["trial1", "problem"].startswith(str(latents))


def test_export_refuses_a_checkpoint_that_does_not_load(sweep, cli, tmp_path):
    frame = rebuild_trials_table(resolve(sweep)).set_index("trial_id")
    best = frame.loc[frame["best_loss"].idxmin()]
    config = sweep / best["checkpoint_path"] / tf.CONFIG_FILE
    config.write_text(json.dumps({**json.loads(config.read_text()), "latent_dim": 7}))  # model.pt no longer fits
    done = cli("best", str(sweep), "--export", str(tmp_path / "out"))
    assert done.returncode == 1 and "not exported, the checkpoint does not load" in done.stderr
    assert not (tmp_path / "out").exists()


def test_row_table_keeps_every_key_and_orders_by_best_loss():
    table = RowTable([{"trial_id": "a", "status": "ERROR"}])
    table.put({"trial_id": "b", "status": "TERMINATED", "best_loss": 2.0, "val_kl_per_dim": [0.5, 1.5]})
    table.put({"trial_id": "c", "status": "TERMINATED", "best_loss": 1.0, "mig": 0.25})
    table.put({"trial_id": "a", "status": "RUNNING"})
    table.drop("b")
    frame = table.frame()
    assert list(frame["trial_id"]) == ["c", "a"] and list(frame["status"]) == ["TERMINATED", "RUNNING"]
    assert frame.loc[0, "mig"] == 0.25 and {"checkpoint_path", "problem", "latent_dim"} <= set(frame.columns)


def test_the_explorer_imports_neither_sweeps_nor_ray():
    code = "import sys, explorer.app; print(sorted({m.split('.')[0] for m in sys.modules} & {'sweeps', 'ray'}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
