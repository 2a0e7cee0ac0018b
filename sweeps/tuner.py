"""The Ray Tune side of a sweep: connect, build or restore the Tuner, keep trials.parquet current, summarise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import optuna
import pyarrow as pa
import ray
from ray import tune
from ray.tune.error import TuneError
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from sweeps.bookkeeping import BookEvents, Finisher, TrialBook, active
from sweeps.connection import GPU_MESSAGE, connect, gpus_available
from sweeps.console import Console, finishing_line
from sweeps.options import RunOptions
from sweeps.plan import search_line
from sweeps.settings import SweepSettings
from sweeps.space import SearchSpace, grid_param_space, trial_count
from sweeps.summary import summarize
from sweeps.trial import registering, run_trial
from sweeps.versions import installed_versions
from vaemodels import (
    DATASETS,
    SCORE_SETTINGS,
    UDR_KEYS,
    Lease,
    LeaseLost,
    Location,
    RowTable,
    checkpoint_problem,
    hold_lease,
    load_or_rebuild,
    remove_partial_writes,
    score_protocol,
    sweep_udr,
)


class SweepSearch(OptunaSearch):
    """OptunaSearch that records a diverged trial as FAIL (Tune reports its clean end as a success)."""

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and result.get("diverged"):
            return super().on_trial_complete(trial_id, result=None, error=True)
        return super().on_trial_complete(trial_id, result=result, error=error)


def _storage(sweep: Location) -> dict[str, Any]:
    """Tune's storage arguments: the sweep folder's own filesystem, so an S3 endpoint given in the URI or the
    environment reaches every trial (pyarrow's S3FileSystem pickles its endpoint along)."""
    return {} if sweep.is_local else {"storage_filesystem": sweep.fs}


def can_restore(sweep: Location) -> bool:
    return tune.Tuner.can_restore(sweep.path if not sweep.is_local else sweep.uri, **_storage(sweep))


def build_tuner(
    settings: SweepSettings,
    options: RunOptions,
    sweep: Location,
    callback: BookEvents,
    trainable: Callable[..., None] = run_trial,
) -> tune.Tuner:
    """A new Tuner, or the stored one restored (finished trials kept, errored ones retried), both training with
    `trainable` (run_trial's signature)."""
    resourced = tune.with_resources(
        tune.with_parameters(
            registering(trainable, settings.dataset_file),
            threads=max(1, int(options.cpus_per_trial)),
            gpus=options.gpus_per_trial,
        ),
        {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial},
    )
    param_space = grid_param_space(settings, tune.grid_search) if settings.is_grid else {}
    if can_restore(sweep):
        path = sweep.path if not sweep.is_local else sweep.uri
        return tune.Tuner.restore(
            path, trainable=resourced, resume_errored=True, param_space=param_space or None, **_storage(sweep)
        )
    epochs = settings.fixed.get("epochs", 10)
    scheduler = None
    if settings.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=epochs,
            grace_period=min(settings.grace_period, epochs),
            reduction_factor=settings.reduction_factor,
        )
    search = None
    if not settings.is_grid:
        metrics, modes = zip(*settings.objectives)
        search = SweepSearch(
            space=SearchSpace(settings),
            # A define-by-run space ignores TuneConfig's metric and mode; lists: multi-objective TPE.
            metric=list(metrics) if len(metrics) > 1 else metrics[0],
            mode=list(modes) if len(modes) > 1 else modes[0],
            sampler=_sampler(settings),
        )
    single = len(settings.objectives) == 1  # Tune's own metric is one name; a multi-objective one lives in Optuna
    tune_config = tune.TuneConfig(
        metric=settings.metric if single else None,
        mode=settings.mode if single else None,
        search_alg=search,
        scheduler=scheduler,
        num_samples=1 if settings.is_grid else settings.num_samples,
        max_concurrent_trials=options.max_concurrent,
        reuse_actors=True,
        trial_dirname_creator=lambda trial: trial.trial_id,
    )
    run_config = tune.RunConfig(
        name=sweep.name,
        storage_path=sweep.parent.path,
        **_storage(sweep),
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute="loss", checkpoint_score_order="min"
        ),
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        callbacks=[callback, *_trackers(settings, options)],
        verbose=options.verbose,
    )
    return tune.Tuner(resourced, param_space=param_space, tune_config=tune_config, run_config=run_config)


def _sampler(settings: SweepSettings) -> Any:
    """The Optuna sampler of `search`: TPE (multi-objective TPE for several objectives), random, or NSGA-II."""
    samplers = optuna.samplers
    kind = {"tpe": samplers.TPESampler, "random": samplers.RandomSampler, "nsga2": samplers.NSGAIISampler}
    return kind[settings.search](seed=settings.seed)


def _trackers(settings: SweepSettings, options: RunOptions) -> list[tune.Callback]:
    """The opt-in tracking callbacks; TensorBoard needs none (Tune writes its event files into each trial folder).

    Tune pickles its callbacks with the sweep: a resumed sweep keeps the tracking of its first run.
    """
    if not options.mlflow:
        return []
    from sweeps.tracking import TrialArtifacts  # imports mlflow's integration only when asked for

    return [TrialArtifacts(options.mlflow, experiment_name=settings.name)]


def provenance(settings: SweepSettings, options: RunOptions) -> dict[str, Any]:
    """trials.parquet metadata: the sweep's settings and the versions that produced it."""
    return {
        "settings": settings.to_json(),
        "metric": settings.metric,
        "mode": settings.mode,
        "versions": installed_versions(),
        "dci_regressor": settings.dci_regressor,
        "dci_samples": options.dci_samples,
        "score_setting": settings.scores,
        "score_counts": SCORE_SETTINGS[settings.scores],
        # What each score reads (fresh oracle samples or the stored latents), how many points, which classifier.
        "score_protocol": score_protocol(
            settings.scores, DATASETS[settings.dataset].has_oracle, settings.dci_regressor, options.dci_samples
        ),
        "keep": options.keep,
    }


INTERRUPTED_FINISHING = (
    "interrupted while finishing the trials: {uri}/trials.parquet holds what was done; run the same command again to "
    "finish the rest"
)


def run_sweep(
    settings: SweepSettings,
    options: RunOptions,
    sweep: Location,
    trainable: Callable[..., None] = run_trial,
    lease: Lease | None = None,
) -> int:
    """Run or resume the sweep; keep trials.parquet; print the summary. Non-zero exit only if every trial failed.

    `trainable` trains one trial, called like run_trial (Tune's config dict, threads=, gpus=): run_trial itself, or
    a function that wraps it, e.g. `functools.partial(run_trial, callbacks=[...])`. Ray pickles it to every worker.
    `lease`: the sweep folder's lease, held by the caller; without one, this call holds it while it runs.
    Raises LeaseLost when another driver took the lease: no table is written after that.
    """
    if lease is None:
        with hold_lease(sweep, options.take_over) as held:
            return run_sweep(settings, options, sweep, trainable, held)
    started, finisher = connect(options), None
    try:
        if not gpus_available(options):
            print(GPU_MESSAGE.format(gpus=options.gpus_per_trial), file=sys.stderr)
            return 2
        remove_partial_writes(sweep)  # what a driver killed mid-write left; this one holds the folder now
        resumed = can_restore(sweep)
        table = _stored_table(sweep) if resumed else RowTable()
        finisher = Finisher(
            sweep, options.dci_samples, settings.dci_regressor, with_dci=_has_factors(settings), scores=settings.scores
        )
        console = Console(trial_count(settings), settings.metric, settings.mode) if options.verbose == 0 else None
        book = TrialBook(sweep, provenance(settings, options), table, finisher, console, lease)
        if console is not None:
            console.counted([table.get(trial_id) for trial_id in table.ids()])
        print(f"{'resuming' if resumed else 'starting'} sweep {settings.name!r} in {sweep.uri}", flush=True)
        print(f"  {search_line(settings)}", flush=True)
        try:
            for row in _unfinalized(table):  # finished before a driver stopped, not yet finished off; Tune's state
                finisher.submit(row, drop_optimizer=False)  # may lag and restart it: its optimizer state stays
            with active(book) as events:
                build_tuner(settings, options, sweep, events, trainable).fit()
            try:
                if not _interrupted(book):
                    _finish_off(book, finisher, options.keep)
                    _add_udr(book, sweep, settings.scores)
                    book.trim_finished(options.keep)
            except KeyboardInterrupt:  # Ctrl-C while finishing: what is done so far is kept, the rest resumes
                book.write()
                print(INTERRUPTED_FINISHING.format(uri=sweep.uri), file=sys.stderr)
                return 130
            book.write()
            if console is not None:
                console.close()
        except (OSError, pa.ArrowException, TuneError) as error:
            _raise_lost(error)
            cause = _storage_cause(error)
            if cause is None:
                raise
            print(STORAGE_MESSAGE.format(uri=sweep.uri, error=cause), file=sys.stderr)
            return 1
    finally:
        if finisher is not None:
            finisher.close()
        if started:
            ray.shutdown()
    for trial_id in book.set_aside:
        print(f"set aside trial {trial_id}: it started just before the driver stopped and Tune never recorded it")
    return summarize(table.frame(), sweep)


def _has_factors(settings: SweepSettings) -> bool:
    """Whether the sweep's dataset has ground-truth factors (what DCI needs)."""
    return bool(DATASETS[settings.dataset].factor_names)


def _stored_table(sweep: Location) -> RowTable:
    """The table a stopped driver left (rebuilt from the trial folders when it is missing or damaged), with the
    files of its finished trials checked again: a damaged one is marked, an earlier mark cleared where they read."""
    frame, _ = load_or_rebuild(sweep, warn=lambda message: print(f"warning: {message}", file=sys.stderr), write=True)
    table = RowTable.from_frame(frame) if len(frame) else RowTable()
    finished = [table.get(i) for i in table.ids() if table.get(i)["status"] == "TERMINATED"]
    with ThreadPoolExecutor(max_workers=8) as pool:  # storage reads: a bucket answers many at once
        problems = pool.map(lambda row: checkpoint_problem(sweep, row, thorough=False), finished)
        for row, problem in zip(finished, problems):
            if problem:
                print(f"damaged trial {row['trial_id']}: {problem}", file=sys.stderr)
                table.put({**row, "problem": problem})
            elif row.get("problem") and isinstance(row.get("checkpoint_path"), str):  # its files read now: healed
                table.put({**row, "problem": None})
    return table


def _unfinalized(table: RowTable) -> list[dict[str, Any]]:
    rows = (table.get(trial_id) for trial_id in table.ids())
    return [
        row
        for row in rows
        if row["status"] == "TERMINATED" and not row.get("finalized") and not row.get("problem")
        and isinstance(row.get("checkpoint_path"), str)
    ]  # fmt: skip


def _interrupted(book: TrialBook) -> bool:
    """Trials left unfinished (Ctrl-C): their finishing waits for the next run or `latentsweep metrics`."""
    return any(book.table.get(i)["status"] in ("RUNNING", "PENDING") for i in book.table.ids())


def _finish_off(book: TrialBook, finisher: Finisher, keep: str) -> None:
    """Wait for the finishing tasks still running."""
    if not len(finisher):
        return
    dci = finisher.regressor if finisher.actors and finisher.dci_samples > 0 else None  # else no DCI, no scores
    print(finishing_line(len(finisher), dci, finisher.scores if finisher.actors else None, keep), flush=True)
    while len(finisher):
        book.merge_finished(timeout=5.0)
        book.maybe_write()


def _add_udr(book: TrialBook, sweep: Location, setting: str) -> None:
    """UDR over the finished trials, on the codes the score setting says, into the table (a trial left out gets a
    line)."""
    scored, problems = sweep_udr(sweep, book.table.frame(), setting)
    for row in scored[["trial_id", *UDR_KEYS]].to_dict("records"):
        book.table.put({**book.table.get(row["trial_id"]), **row})
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)


def _raise_lost(error: BaseException) -> None:
    """Raise the LeaseLost behind a failure (Tune wraps what its callbacks raise): the driver's one line."""
    seen = error
    while seen is not None:
        if isinstance(seen, LeaseLost):
            raise seen from None
        seen = seen.__cause__ or seen.__context__


def _storage_cause(error: BaseException) -> BaseException | None:
    """The OSError behind a failure (Tune wraps what its callbacks raise in a TuneError), or None."""
    seen = error
    while seen is not None:
        if isinstance(seen, (OSError, pa.ArrowException)):
            return seen
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    return error if "OSError" in text or "Read-only file system" in text else None


STORAGE_MESSAGE = (
    "latentsweep sweep: the sweep stopped because its storage {uri} could not be written ({error}). "
    "Finished trials and their checkpoints are kept; make the storage writable and run the same command "
    "again to resume."
)
if __name__ == "__main__":
    sys.exit("run sweeps via `latentsweep sweep` or `python sweeps/run.py`")
