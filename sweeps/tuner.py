"""The Ray Tune side of a sweep: connect, build or restore the Tuner, keep trials.parquet current, summarise."""

from __future__ import annotations

import logging
import os
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import optuna
import pyarrow as pa
import ray
from ray import tune
from ray.tune.error import TuneError
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from sweeps.dci import add_dci
from sweeps.results import TrialState, build_trials_table, write_trials_table
from sweeps.run import RunOptions
from sweeps.settings import SweepSettings
from sweeps.space import SearchSpace, flatten, grid_param_space
from sweeps.storage import Location
from sweeps.trial import run_trial

TERMINAL = {"TERMINATED", "ERROR"}
DCI_REGRESSOR = (
    "random_forest"  # seconds a trial; `latentsweep metrics --regressor gradient_boosting` for the reference
)


class SweepSearch(OptunaSearch):
    """OptunaSearch that records a diverged trial as FAIL (Tune reports its clean end as a success)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and result.get("diverged"):
            return super().on_trial_complete(trial_id, result=None, error=True)
        return super().on_trial_complete(trial_id, result=result, error=error)


class TrialsTable(tune.Callback):
    """Rewrites trials.parquet on the driver whenever a trial ends, so `best` and the explorer work mid-sweep."""

    def __init__(self, sweep: Location, metadata: dict[str, Any]) -> None:
        self.sweep, self.metadata = sweep, metadata
        self.last_seen: list = []

    def write(self, trials: list) -> None:
        states = {_folder(t): _state(t) for t in trials}
        try:
            frame = build_trials_table(self.sweep, states)
        except (ValueError, KeyError, TypeError) as error:  # a damaged trial folder must not stop the sweep
            logging.getLogger(__name__).warning("trials.parquet not updated: %s", error)
            return
        write_trials_table(self.sweep, frame, self.metadata)  # OSError here (storage gone) does stop the sweep

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials)

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        # Statuses copied every step: after a Ctrl-C, Tune's cleanup marks running trials TERMINATED although
        # its saved state (what a resume reads) still has them RUNNING.
        self.last_seen = [(trial, trial.status) for trial in trials]

    def final_states(self) -> dict[str, TrialState]:
        """Each known trial's state as the scheduler last saw it during the run."""
        return {_folder(trial): _state(trial, status) for trial, status in self.last_seen}


def _folder(trial) -> str:
    """The trial's folder name in the sweep: the row's trial_id (Tune may suffix it when a retry needs a new one)."""
    return Path(trial.path).name


def _state(trial, status: str | None = None) -> TrialState:
    status = status or trial.status
    return TrialState(status, _error_text(trial) if status == "ERROR" else None, flatten(trial.config))


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None)
    try:
        text = Path(path).read_text() if path else ""
    except OSError:
        text = ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:2000] if lines else "trial failed (no error file)"


def connect(options: RunOptions) -> bool:
    """`local`: a fresh embedded Ray (never a stray cluster); `auto` or a URI joins one; default: $RAY_ADDRESS.

    Returns whether this call started the connection (a Ray already initialised in-process is reused).
    """
    logging.getLogger("ray").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tiny epochs checkpoint often; Tune's advice to checkpoint less is noise for a sweep of small models.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS") or "local"
    kwargs = {"include_dashboard": False} if address == "local" else {}
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
    return True


def gpus_available(options: RunOptions) -> bool:
    """False when GPUs are asked for and no node has one nor can an autoscaler add one (Tune would wait forever)."""
    if options.gpus_per_trial <= 0:
        return True
    return ray.cluster_resources().get("GPU", 0) > 0 or _autoscaler_adds_gpus()


def _autoscaler_adds_gpus() -> bool:
    """True on a `ray up` head whose autoscaling config declares a GPU node type."""
    bootstrap = Path("~/ray_bootstrap_config.yaml").expanduser()
    if not bootstrap.exists():
        return False
    import yaml

    config = yaml.safe_load(bootstrap.read_text()) or {}
    node_types = (config.get("available_node_types") or {}).values()
    return any((node.get("resources") or {}).get("GPU", 0) > 0 for node in node_types)


def build_tuner(settings: SweepSettings, options: RunOptions, sweep: Location, callback: TrialsTable) -> tune.Tuner:
    """A new Tuner, or the stored one restored (finished trials kept, errored ones retried)."""
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, threads=max(1, int(options.cpus_per_trial)), gpus=options.gpus_per_trial),
        {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial},
    )
    param_space = grid_param_space(settings, tune.grid_search) if settings.is_grid else {}
    if tune.Tuner.can_restore(sweep.uri):
        return tune.Tuner.restore(sweep.uri, trainable=trainable, resume_errored=True, param_space=param_space or None)
    epochs = settings.fixed.get("epochs", 10)
    scheduler = None
    if settings.scheduler == "asha":
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=epochs, grace_period=min(2, epochs))
    search = None
    if not settings.is_grid:
        from optuna.samplers import TPESampler

        search = SweepSearch(
            space=SearchSpace(settings),
            metric=settings.metric,  # a define-by-run space ignores TuneConfig's metric and mode
            mode=settings.mode,
            sampler=TPESampler(seed=settings.seed),
        )
    tune_config = tune.TuneConfig(
        metric=settings.metric,
        mode=settings.mode,
        search_alg=search,
        scheduler=scheduler,
        num_samples=1 if settings.is_grid else settings.num_samples,
        max_concurrent_trials=options.max_concurrent,
        reuse_actors=True,
        trial_dirname_creator=lambda trial: trial.trial_id,
    )
    run_config = tune.RunConfig(
        name=sweep.path.rsplit("/", 1)[-1],
        storage_path=sweep.uri.rsplit("/", 1)[0],
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute="loss", checkpoint_score_order="min"
        ),
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        callbacks=[callback],
        verbose=options.verbose,
    )
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)


def provenance(settings: SweepSettings) -> dict[str, Any]:
    """trials.parquet metadata: the sweep's settings and the versions that produced it."""
    versions = {}
    for package in ("torch", "ray", "optuna", "latentsweep"):
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "settings": settings.to_json(),
        "metric": settings.metric,
        "mode": settings.mode,
        "versions": versions,
        "dci_regressor": DCI_REGRESSOR,
    }


def run_sweep(settings: SweepSettings, options: RunOptions, sweep: Location) -> int:
    """Run or resume the sweep; write trials.parquet; print the summary. Non-zero exit only if every trial failed."""
    started = connect(options)
    try:
        if not gpus_available(options):
            print(GPU_MESSAGE.format(gpus=options.gpus_per_trial), file=sys.stderr)
            return 2
        callback = TrialsTable(sweep, provenance(settings))
        resumed = tune.Tuner.can_restore(sweep.uri)
        tuner = build_tuner(settings, options, sweep, callback)
        print(f"{'resuming' if resumed else 'starting'} sweep {settings.name!r} in {sweep.uri}", flush=True)
        try:
            grid = tuner.fit()
            states = {Path(result.path).name: _result_state(result) for result in grid}
            states.update(callback.final_states())  # the scheduler's word on unfinished (interrupted) trials
            frame = build_trials_table(sweep, states)
            write_trials_table(sweep, frame, callback.metadata)  # the Tune results are safe before DCI starts
            if options.dci_samples > 0:
                print(f"DCI ({DCI_REGRESSOR}, {options.dci_samples:,} samples a trial):", flush=True)
                frame = add_dci(sweep, frame, DCI_REGRESSOR, options.dci_samples)
                write_trials_table(sweep, frame, callback.metadata)
        except (OSError, pa.ArrowException, TuneError) as error:
            cause = _storage_cause(error)
            if cause is None:
                raise
            print(STORAGE_MESSAGE.format(uri=sweep.uri, error=cause), file=sys.stderr)
            return 1
    finally:
        if started:
            ray.shutdown()
    return summarize(frame, sweep)


def _storage_cause(error: BaseException) -> BaseException | None:
    """The OSError behind a failure (Tune wraps what its callbacks raise in a TuneError), or None."""
    seen = error
    while seen is not None:
        if isinstance(seen, (OSError, pa.ArrowException)):
            return seen
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    return error if "OSError" in text or "Read-only file system" in text else None


def _result_state(result) -> TrialState:
    if result.error is None:
        return TrialState("TERMINATED")
    lines = [line for line in str(result.error).strip().splitlines() if line.strip()]
    return TrialState("ERROR", lines[-1][:2000] if lines else type(result.error).__name__, flatten(result.config))


STORAGE_MESSAGE = (
    "latentsweep sweep: the sweep stopped because its storage {uri} could not be written ({error}). "
    "Finished trials and their checkpoints are kept; make the storage writable and run the same command "
    "again to resume."
)
GPU_MESSAGE = (
    "latentsweep sweep: --gpus-per-trial {gpus} but no node of this Ray cluster has a GPU and no autoscaler can add "
    "one; use --gpus-per-trial 0, or a cluster with GPU workers (ray_cluster.yaml)"
)
UNSHARED_STORAGE = "A local path on the head node is not accessible by worker nodes"  # Ray's storage check
UNSHARED_MESSAGE = (
    "latentsweep sweep: trials on worker nodes cannot see the sweep folder {uri}: that --storage exists on the head "
    "node only. On a cluster use shared storage that every node reaches at the same address: an NFS path mounted at "
    "the same place on every node, or s3://BUCKET/PATH or gs://BUCKET/PATH"
)


def summarize(frame, sweep: Location) -> int:
    """Print what finished, what failed, the best trial and how to explore; the exit code."""
    from sweeps.best import describe_best

    statuses = frame["status"].value_counts().to_dict() if len(frame) else {}
    finished, errored = statuses.get("TERMINATED", 0), statuses.get("ERROR", 0)
    unfinished = len(frame) - finished - errored
    print(f"\nsweep {sweep.uri}: {finished} trials finished, {errored} errored, {len(frame)} in all")
    if errored:
        for row in frame[frame["status"] == "ERROR"].itertuples():
            print(f"  {row.trial_id} failed: {row.error}")
    if finished:
        print(describe_best(frame, sweep))
    if unfinished:
        print(f"interrupted with {unfinished} trials unfinished: run the same command again to resume")
    print(f"explore it: latentsweep explore {sweep.uri}")
    if errored and frame["error"].fillna("").str.contains(UNSHARED_STORAGE, regex=False).any():
        print(UNSHARED_MESSAGE.format(uri=sweep.uri), file=sys.stderr)
        return 2
    if unfinished:
        return 130
    return 0 if finished or not errored else 1


if __name__ == "__main__":
    sys.exit("run sweeps via `latentsweep sweep` or `python sweeps/run.py`")
