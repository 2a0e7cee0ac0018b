"""The Ray Tune side of a sweep: connect, build or restore the Tuner, keep trials.parquet current, summarise."""

from __future__ import annotations

import logging
import os
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from sweeps.results import TrialState, build_trials_table, write_trials_table
from sweeps.run import RunOptions
from sweeps.settings import SweepSettings
from sweeps.space import SearchSpace, flatten, grid_param_space
from sweeps.storage import Location
from sweeps.trial import run_trial

TERMINAL = {"TERMINATED", "ERROR"}


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

    def write(self, trials: list) -> None:
        states = {t.trial_id: _state(t) for t in trials}
        write_trials_table(self.sweep, build_trials_table(self.sweep, states), self.metadata)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials)


def _state(trial) -> TrialState:
    error = None
    if trial.status == "ERROR":
        error = _error_text(trial)
    return TrialState(trial.status, error, flatten(trial.config))


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
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS") or "local"
    logging.getLogger("ray").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Tiny epochs checkpoint often; Tune's advice to checkpoint less is noise for a sweep of small models.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    kwargs = {"include_dashboard": False} if address == "local" else {}
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
    return True


def check_gpus(options: RunOptions) -> None:
    """Fail before any trial starts when GPUs are asked for and none exist nor can be added."""
    if options.gpus_per_trial <= 0:
        return
    if ray.cluster_resources().get("GPU", 0) > 0 or _autoscaler_adds_gpus():
        return
    raise SystemExit(
        f"latentsweep sweep: --gpus-per-trial {options.gpus_per_trial} but no node of this Ray cluster has a GPU "
        "and no autoscaler can add one; use --gpus-per-trial 0 or a cluster with GPU workers (ray_cluster.yaml)"
    )


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
    return {"settings": settings.to_json(), "metric": settings.metric, "mode": settings.mode, "versions": versions}


def run_sweep(settings: SweepSettings, options: RunOptions, sweep: Location) -> int:
    """Run or resume the sweep; write trials.parquet; print the summary. Non-zero exit only if every trial failed."""
    started = connect(options)
    try:
        check_gpus(options)
        callback = TrialsTable(sweep, provenance(settings))
        resumed = tune.Tuner.can_restore(sweep.uri)
        tuner = build_tuner(settings, options, sweep, callback)
        print(f"{'resuming' if resumed else 'starting'} sweep {settings.name!r} in {sweep.uri}", flush=True)
        grid = tuner.fit()
        states = {Path(result.path).name: _result_state(result) for result in grid}
        frame = build_trials_table(sweep, states)
        write_trials_table(sweep, frame, callback.metadata)
    finally:
        if started:
            ray.shutdown()
    return summarize(frame, sweep)


def _result_state(result) -> TrialState:
    if result.error is None:
        return TrialState("TERMINATED")
    lines = [line for line in str(result.error).strip().splitlines() if line.strip()]
    return TrialState("ERROR", lines[-1][:2000] if lines else type(result.error).__name__, flatten(result.config))


def summarize(frame, sweep: Location) -> int:
    """Print what finished, what failed, the best trial and how to explore; the exit code."""
    from sweeps.best import describe_best

    finished = int((frame["status"] == "TERMINATED").sum()) if len(frame) else 0
    errored = int((frame["status"] == "ERROR").sum()) if len(frame) else 0
    print(f"\nsweep {sweep.uri}: {finished} trials finished, {errored} errored, {len(frame)} in all")
    if finished:
        print(describe_best(frame, sweep))
    print(f"explore it: latentsweep explore {sweep.uri}")
    return 0 if finished or not errored else 1


if __name__ == "__main__":
    sys.exit("run sweeps via `latentsweep sweep` or `python sweeps/run.py`")
