"""MLflow tracking, opt-in with `--mlflow URI`: Ray's MLflowLoggerCallback (one run a trial, its config as params,
every epoch's metrics) plus each trial's best latents.parquet and config.json as artifacts.

Ray's own artifact upload sends the driver's staging folder, which holds no checkpoint (the checkpoints live in
the sweep's storage), so the artifacts are read from the trial's checkpoint on storage when the trial ends.
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
from pathlib import Path

from ray.air.integrations.mlflow import MLflowLoggerCallback

from vaemodels import CONFIG_FILE, LATENTS_FILE, SUMMARY_FILE, on, path_problem

ARTIFACTS = (CONFIG_FILE, LATENTS_FILE)


class TrialArtifacts(MLflowLoggerCallback):
    """MLflowLoggerCallback that also logs the trial's best checkpoint's config.json and latents.parquet."""

    def __init__(self, tracking_uri: str, experiment_name: str) -> None:
        super().__init__(tracking_uri=tracking_uri, experiment_name=experiment_name, save_artifact=False)

    def setup(self, *args, **kwargs) -> None:
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up lines, not the sweep's
        _create_experiment(self.tracking_uri, self.experiment_name)
        super().setup(*args, **kwargs)

    def log_trial_end(self, trial, failed: bool = False) -> None:
        run_id = self._trial_runs.get(trial)
        if run_id is not None and trial.checkpoint is not None:
            with tempfile.TemporaryDirectory(prefix="ls-mlflow-") as folder:
                if _copy_best(trial.checkpoint, Path(folder)):
                    self.mlflow_util.save_artifacts(run_id=run_id, dir=folder)
        super().log_trial_end(trial, failed)


def _create_experiment(tracking_uri: str, name: str) -> None:
    """Create the sweep's experiment if new; with an SQLite store, its artifacts go beside the database file.

    MLflow's default artifact root is ./mlruns in the working directory, which would scatter them wherever the
    driver happened to start. A tracking server chooses its own root.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    if client.get_experiment_by_name(name) is not None:
        return
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = (Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent / "mlflow-artifacts").as_uri()
    client.create_experiment(name, artifact_location=location)


def _copy_best(checkpoint, folder: Path) -> bool:
    """Copy the best checkpoint's artifacts (named by the newest checkpoint's summary) into folder; False if none."""
    newest = on(checkpoint.filesystem, checkpoint.path)
    trial_folder = on(checkpoint.filesystem, posixpath.dirname(checkpoint.path.rstrip("/")))
    try:
        named = newest.join(SUMMARY_FILE).read_json()["checkpoint_path"]
        if path_problem(named):  # never copy from outside the trial folder
            return False
        best = trial_folder.join(named)
        for name in ARTIFACTS:
            (folder / name).write_bytes(best.join(name).read_bytes())
    except (OSError, KeyError, TypeError, ValueError):
        return False  # diverged before a finite epoch, or a damaged file: the run keeps its params and metrics
    return True
