"""The driver's reliability: a `problem` mark is checked again whenever a command acts on the trial (one whose files
read cleanly now loses it), a dead finishing actor is a retry, not damage, Ctrl-C while finishing keeps the table,
and a resume's finishing never deletes what Tune may restart a trial from."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
import pytest

from sweeps.bookkeeping import _outcome
from vaemodels.storage import resolve
from vaemodels.table_rebuild import rebuild_trials_table
from vaemodels.trials_table import read_trials_table, write_trials_table

TRANSIENT = "finishing the trial failed: ActorDiedError: the actor died unexpectedly"


@pytest.fixture
def marked(trials_copy):
    """The finished trials' sweep, its best trial marked by an earlier run though its files are intact."""
    sweep = resolve(trials_copy)
    frame = rebuild_trials_table(sweep)
    best = frame.loc[frame["status"] == "TERMINATED"].sort_values("best_loss").iloc[0]["trial_id"]
    frame.loc[frame["trial_id"] == best, "problem"] = TRANSIENT
    write_trials_table(sweep, frame, {})
    return sweep, best


def test_best_checks_a_marked_trial_again_and_ranks_it_when_its_files_read(marked, cli):
    sweep, best = marked
    shown = cli("best", sweep.path, "--top", "1")
    assert shown.returncode == 0, shown.stderr
    assert f"best trial {best}" in shown.stdout and "damaged" not in shown.stderr


def test_metrics_clears_a_mark_whose_files_read_cleanly(marked, cli):
    sweep, best = marked
    shown = cli("metrics", sweep.path, "--dci-samples", "100")
    assert shown.returncode == 0, shown.stderr
    frame, _ = read_trials_table(sweep)
    assert pd.isna(frame.set_index("trial_id").loc[best, "problem"])
    assert frame.set_index("trial_id").loc[best, "dci_disentanglement"] >= 0  # computed, not skipped


def test_a_finishing_worker_that_dies_leaves_the_trial_unfinished_not_damaged(capsys):
    def died():
        raise RuntimeError("the actor died unexpectedly")

    assert _outcome("t0", died) == {}  # no `problem`: the next resume or `metrics` finishes it
    assert "finishing trial t0 failed" in capsys.readouterr().err


def test_ctrl_c_while_finishing_writes_the_table_and_exits_130_with_one_line(tmp_path, monkeypatch, capsys):
    """The driver's control flow with Ray's parts faked: Tune's run ends, then Ctrl-C while the trials finish."""
    from sweeps import tuner
    from sweeps.options import RunOptions
    from sweeps.settings import make_settings

    class Idle:  # a Finisher with nothing left to do
        def __init__(self, *args, **kwargs):
            pass

        def __len__(self):
            return 0

        def close(self):
            pass

    class Tuner:
        def fit(self):
            pass

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tuner, "connect", lambda options: False)
    monkeypatch.setattr(tuner, "gpus_available", lambda options: True)
    monkeypatch.setattr(tuner, "Finisher", Idle)
    monkeypatch.setattr(tuner, "build_tuner", lambda *args: Tuner())
    monkeypatch.setattr(tuner, "_finish_off", interrupted)
    sweep = resolve(tmp_path / "sweep")
    code = tuner.run_sweep(make_settings("quick"), RunOptions(storage=str(tmp_path)), sweep)
    err = capsys.readouterr().err
    assert code == 130 and "Traceback" not in err
    assert [line for line in err.splitlines() if "interrupted while finishing" in line] == [err.strip()]
    assert sweep.join("trials.parquet").exists()


class Recording:
    """A Finisher that records what it is asked to finish, and finishes nothing."""

    submitted: ClassVar[list[tuple[str, bool]]] = []

    def __init__(self, *args, **kwargs):
        Recording.submitted = []

    def __len__(self):
        return 0

    def submit(self, row, drop_optimizer=True):
        Recording.submitted.append((row["trial_id"], drop_optimizer))

    def close(self):
        pass


def test_a_resumes_finishing_keeps_the_optimizer_state_tune_may_restart_a_trial_from(trials_copy, monkeypatch):
    from sweeps import tuner
    from sweeps.options import RunOptions
    from sweeps.settings import make_settings
    from vaemodels.finishing import finish_trial

    class Tuner:
        def fit(self):  # Tune's lagging state would restart a finished trial here, from its last checkpoint
            pass

    monkeypatch.setattr(tuner, "connect", lambda options: False)
    monkeypatch.setattr(tuner, "gpus_available", lambda options: True)
    monkeypatch.setattr(tuner, "can_restore", lambda sweep: True)
    monkeypatch.setattr(tuner, "Finisher", Recording)
    monkeypatch.setattr(tuner, "build_tuner", lambda *args: Tuner())
    sweep = resolve(trials_copy)
    settings = make_settings("quick", {"name": "sweep"})
    tuner.run_sweep(settings, RunOptions(storage=str(trials_copy.parent), keep="best-and-last"), sweep)
    assert sorted(Recording.submitted) == [("trial0", False), ("trial1", False)]
    row = rebuild_trials_table(sweep).set_index("trial_id").loc["trial0"].to_dict() | {"trial_id": "trial0"}
    last = trials_copy / row["last_checkpoint_path"]
    finish_trial(sweep, row, dci_samples=0, drop_optimizer=False)
    assert (last / "optimizer.pt").exists()
    finish_trial(sweep, row, dci_samples=0)  # the sweep's own end (or a trial finishing now) drops it
    assert not (last / "optimizer.pt").exists()


def test_fresh_moves_a_sweep_aside_on_a_bucket_too(s3_bucket):
    """`--fresh` on s3://: pyarrow cannot move a bucket's "folder" (NO_SUCH_KEY during CopyObject)."""
    from sweeps.options import RunOptions
    from sweeps.run import prepare_storage
    from sweeps.settings import make_settings

    settings = make_settings("quick")
    old = resolve(f"{s3_bucket}/fresh").join(settings.name)
    old.join("trial0", "checkpoint_000000", "summary.json").write_text("{}")
    old.join("trials.parquet").write_bytes(b"old table")
    sweep = prepare_storage(settings, RunOptions(storage=f"{s3_bucket}/fresh", fresh=True))
    moved = [info for info in resolve(f"{s3_bucket}/fresh").list() if ".moved-" in info.base_name]
    assert len(moved) == 1
    aside = resolve(f"{s3_bucket}/fresh").join(moved[0].base_name)
    assert aside.join("trials.parquet").read_bytes() == b"old table"
    assert aside.join("trial0", "checkpoint_000000", "summary.json").read_text() == "{}"
    assert sorted(info.base_name for info in sweep.list()) == ["sweep.yaml"]  # a fresh start


def test_best_on_a_table_without_path_columns_ranks_it_without_a_traceback(tmp_path, cli):
    sweep = resolve(tmp_path / "handmade")
    frame = pd.DataFrame({"trial_id": ["t0"], "status": ["TERMINATED"], "best_loss": [1.0], "arch": ["vae"]})
    write_trials_table(sweep, frame, {})
    shown = cli("best", sweep.path)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    assert "best trial t0" in shown.stdout and "checkpoint: none recorded" in shown.stdout


@pytest.mark.slow
def test_closing_the_finisher_ends_its_actors_and_threads_in_a_ray_it_did_not_start(tmp_path, ray_session):
    """A driver inside a running Ray (a notebook) does not shut Ray down: what it started must end with it."""
    import threading
    import time

    import ray

    from sweeps.bookkeeping import Finisher

    finisher = Finisher(resolve(tmp_path), dci_samples=100, regressor="lasso", with_dci=True)
    actors = list(finisher.workers)
    assert actors and ray.get([actor.__ray_ready__.remote() for actor in actors], timeout=120)
    finisher.threads.submit(time.sleep, 0).result()  # the pool has started a thread
    finisher.close()

    def answers(actor) -> bool:
        try:
            ray.get(actor.__ray_ready__.remote(), timeout=60)
        except ray.exceptions.GetTimeoutError:
            return True  # alive, only slow
        except ray.exceptions.RayError:  # killed: RayActorError, or unavailable while it dies
            return False
        return True

    assert not [actor for actor in actors if answers(actor)]
    deadline = time.monotonic() + 30
    while any(t.name.startswith("latentsweep-finish") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("latentsweep-finish")]
