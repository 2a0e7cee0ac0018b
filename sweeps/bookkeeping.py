"""The driver's bookkeeping: trials.parquet kept in memory, updated from Tune's events, written when it changes;
whole-trial work (DCI, trimming storage) sent to the cluster as Ray tasks when a trial finishes.

No trial folder is read here: a trial's row comes with its results (the summary its checkpoint also holds), its
status from the event itself (Tune changes `trial.status` only after the callbacks ran).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ray
from ray import tune

from sweeps.console import Console
from sweeps.space import flatten
from sweeps.trial import SUMMARY_KEY
from vaemodels import (
    ABANDONED_FILE,
    Lease,
    Location,
    RowTable,
    fell_short,
    finish_trial,
    is_missing,
    pending_row,
    row_from_summary,
    trim_trial,
)

WRITE_SHARE = 0.05  # at most this share of the driver's time goes to writing trials.parquet
MAX_WRITE_INTERVAL_S = 5.0  # a status change reaches storage within this, however large the table
RESULT_WRITE_INTERVAL_S = 30.0  # metrics alone (no status change) are written at most this often

log = logging.getLogger(__name__)


class _FinishingWorker:
    """A long-lived process that finishes trials: its imports (torch, scikit-learn) are paid once, at the start."""

    def finish(
        self, sweep: Location, row: dict[str, Any], dci_samples: int, regressor: str, scores: str | None, drop: bool
    ) -> dict[str, Any]:
        return finish_trial(sweep, row, dci_samples, regressor, scores, drop)


class Finisher:
    """Finishes each finished trial (`finish_trial`) beside the trials still training.

    With DCI to compute, on Ray actors: they reserve no CPU (Tune reserves every CPU for its running and pending
    trials, staging their placement groups ahead, so anything that asked for one would wait for the end of the
    sweep); a quarter as many as the cluster has CPUs (one on a 2-CPU machine), each finishing one trial at a time
    (DCI is single-threaded); started with the sweep, so the first finished trial does not wait for a process to
    import torch and scikit-learn. Without DCI (no factors, or --dci-samples 0) the rest is a few storage requests,
    done in the driver's own threads: an actor's start (about 6 s of CPU here) would slow the first trials more.
    """

    def __init__(
        self, sweep: Location, dci_samples: int, regressor: str, with_dci: bool = True, scores: str | None = None
    ) -> None:
        self.sweep, self.dci_samples, self.regressor = sweep, dci_samples, regressor
        self.scores = scores if with_dci else None  # the score setting; the scores need factors, as DCI does
        self.pending: dict[ray.ObjectRef, tuple[str, Any]] = {}
        self.waiting: deque[tuple[dict[str, Any], bool]] = deque()  # (row, drop_optimizer)
        self.local: dict[Future, str] = {}
        self.threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="latentsweep-finish")
        costly = dci_samples > 0 or self.scores is not None
        count = max(1, int(ray.cluster_resources().get("CPU", 1)) // 4) if with_dci and costly else 0
        worker = ray.remote(num_cpus=0, num_gpus=0, max_restarts=1, max_task_retries=1)(_FinishingWorker)
        self.idle = [worker.remote() for _ in range(count)]
        self.workers = list(self.idle)  # every actor, busy or idle: close() ends them
        self.actors = count

    def __len__(self) -> int:
        return len(self.pending) + len(self.waiting) + len(self.local)

    def close(self) -> None:
        """End the threads and the actors: a driver in a Ray it did not start (a notebook) leaves none behind."""
        self.threads.shutdown(wait=False, cancel_futures=True)
        for worker in self.workers:
            ray.kill(worker)
        self.workers, self.idle, self.pending = [], [], {}

    def submit(self, row: dict[str, Any], drop_optimizer: bool = True) -> None:
        """Finish a trial beside the training ones. `drop_optimizer` False keeps its last checkpoint's optimizer
        state (a resume's finishing: Tune's restored state may restart the trial from that checkpoint meanwhile,
        and the sweep's end trims it instead)."""
        row = _plain_row(row)
        if self.actors:
            self.waiting.append((row, drop_optimizer))
            self._launch()
        else:
            future = self.threads.submit(finish_trial, self.sweep, row, 0, self.regressor, None, drop_optimizer)
            self.local[future] = row["trial_id"]

    def _launch(self) -> None:
        while self.waiting and self.idle:
            (row, drop), worker = self.waiting.popleft(), self.idle.pop()
            ref = worker.finish.remote(self.sweep, row, self.dci_samples, self.regressor, self.scores, drop)
            self.pending[ref] = (row["trial_id"], worker)

    def ready(self, timeout: float = 0) -> list[tuple[str, dict[str, Any]]]:
        """The results of the trials finished since the last call (waiting up to `timeout` s for at least one)."""
        results = []
        if self.local:
            done, _ = wait(list(self.local), timeout=0 if self.pending else timeout, return_when=FIRST_COMPLETED)
            for future in done:
                trial_id = self.local.pop(future)
                results.append((trial_id, _outcome(trial_id, future.result)))
        if self.pending:
            refs = list(self.pending)
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=0 if results else timeout, fetch_local=True)
            for ref in done:
                trial_id, worker = self.pending.pop(ref)
                self.idle.append(worker)
                results.append((trial_id, _outcome(trial_id, lambda ref=ref: ray.get(ref))))
            self._launch()
        return results


def _outcome(trial_id: str, result) -> dict[str, Any]:
    try:
        return result()
    except Exception as error:  # the actor or thread died (after Ray's retry): a retry later, not damage
        print(
            f"warning: finishing trial {trial_id} failed ({type(error).__name__}: {error}); it stays unfinished, "
            "and the next resume or `latentsweep metrics` finishes it",
            file=sys.stderr,
        )
        return {}


class TrialBook:
    """trials.parquet of a running sweep: one row a trial started, right within one write of every change."""

    def __init__(
        self,
        sweep: Location,
        metadata: dict[str, Any],
        table: RowTable,
        finisher: Finisher | None,
        console: Console | None = None,
        lease: Lease | None = None,
    ):
        self.sweep, self.metadata, self.table, self.finisher = sweep, metadata, table, finisher
        self.lease = lease  # the sweep folder's: once another driver has it, this one writes no table again
        self.console = console  # the progress shown on the terminal (None with --verbose: Tune's reporter)
        self._status_changed = self._results_changed = False
        self._last_write, self._write_seconds = 0.0, 0.0
        self._restore_checked = False
        self.set_aside: list[str] = []

    # ---- Tune's events ---------------------------------------------------------------------------------------

    def on_step_begin(self, iteration: int, trials: list, **info) -> None:
        if self.lease is not None:  # taken by another driver: stop Tune too, before it writes its own state again
            self.lease.check()
        if not self._restore_checked:
            self._restore_checked = True
            self._set_aside_unknown({_folder(trial) for trial in trials})

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        folder = _folder(trial)
        row = self.table.get(folder) or pending_row(folder, flatten(trial.config))
        started = time.time() if is_missing(row.get("started_at")) else row["started_at"]  # a restart keeps it
        self.table.put({**row, "status": "RUNNING", "error": None, "started_at": started})
        self._changed(status=True)
        if self.console is not None:
            self.console.started(folder)

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info) -> None:
        summary = result.get(SUMMARY_KEY)
        if not isinstance(summary, str):
            return
        folder = _folder(trial)
        row = row_from_summary(folder, json.loads(summary))
        started = (self.table.get(folder) or {}).get("started_at")  # the driver's own column: not in the summary
        self.table.put({**row, "status": "RUNNING", "started_at": started})  # Tune's word on the end: on_trial_complete
        self._changed(status=False)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        folder = _folder(trial)
        row = self.table.get(folder) or pending_row(folder, flatten(trial.config))
        stopped = bool(not row.get("diverged") and fell_short(row))  # a scheduler stopped it
        row = {**row, "status": "TERMINATED", "stopped_early": stopped, "error": None}
        self.table.put(row)
        if self.finisher is not None and isinstance(row.get("checkpoint_path"), str):
            self.finisher.submit(row)
        self._changed(status=True)
        if self.console is not None:
            self.console.finished_trial(row, row.get("trial_seconds"))

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        folder = _folder(trial)
        row = self.table.get(folder) or pending_row(folder, flatten(trial.config))
        row = {**row, "status": "ERROR", "error": _error_text(trial)}
        self.table.put(row)
        self._changed(status=True)
        if self.console is not None:
            self.console.errored_trial(row)

    def on_trial_recover(self, iteration: int, trials: list, trial, **info) -> None:
        row = self.table.get(_folder(trial))
        if row is not None:
            self.table.put({**row, "status": "PENDING"})  # it restarts from its last checkpoint
            self._changed(status=True)

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        self.merge_finished(timeout=0)
        self.maybe_write()

    def on_experiment_end(self, trials: list, **info) -> None:
        self.write()

    # ---- merging, writing ------------------------------------------------------------------------------------

    def merge_finished(self, timeout: float = 0) -> int:
        """Merge the finishing tasks that have ended into their rows; how many there were."""
        if self.finisher is None:
            return 0
        results = self.finisher.ready(timeout)
        for trial_id, updates in results:
            row = self.table.get(trial_id)
            if row is not None:
                self.table.put({**row, **updates})
                self._status_changed = True  # finished off: DCI in, storage trimmed
        return len(results)

    def trim_finished(self, keep: str) -> None:
        """Trim the storage of every finished trial not trimmed yet (`trim_trial`); only once Tune's state is saved
        for good, at the end of an uninterrupted run."""
        rows = [self.table.get(i) for i in self.table.ids()]
        rows = [r for r in rows if r["status"] == "TERMINATED" and not r.get("trimmed") and not r.get("problem")]
        with ThreadPoolExecutor(max_workers=8) as pool:  # storage requests: a bucket answers many at once
            for row, updates in zip(rows, pool.map(lambda row: _trim(self.sweep, row, keep), rows)):
                self.table.put({**row, **updates})
        if rows:
            self._status_changed = True

    def _changed(self, status: bool) -> None:
        if status:
            self._status_changed = True
        else:
            self._results_changed = True
        self.maybe_write()

    def maybe_write(self) -> None:
        """Write when a status changed and the last write is far enough behind (writes stay a small share of
        the driver's time however large the table grows), or when only metrics changed, now and then."""
        since = time.perf_counter() - self._last_write
        interval = min(MAX_WRITE_INTERVAL_S, self._write_seconds / WRITE_SHARE)
        if (self._status_changed and since >= interval) or (self._results_changed and since >= RESULT_WRITE_INTERVAL_S):
            self.write()

    def write(self) -> None:
        """Write trials.parquet from memory now (an OSError here, storage gone, stops the sweep; so does LeaseLost,
        the lease taken by another driver)."""
        if self.lease is not None:
            self.lease.check()
        started = time.perf_counter()
        self.table.write(self.sweep, self.metadata)
        self._last_write = time.perf_counter()
        self._write_seconds = self._last_write - started
        self._status_changed = self._results_changed = False

    def _set_aside_unknown(self, known: set[str]) -> None:
        """Rows of trials Tune's restored state never recorded (started just before a driver crash): their folders
        are marked set aside and their rows dropped, so they are never counted."""
        for trial_id in [trial_id for trial_id in self.table.ids() if trial_id not in known]:
            marker = {"reason": "started just before the sweep's driver stopped; Tune never recorded it"}
            try:
                self.sweep.join(trial_id, ABANDONED_FILE).write_text(json.dumps(marker))
            except OSError as error:
                log.warning("could not mark %s as set aside: %s", trial_id, error)
            self.table.drop(trial_id)
            self.set_aside.append(trial_id)
        if self.set_aside:
            self._changed(status=True)


_ACTIVE: list[TrialBook] = []  # the book of the sweep this process runs now


class BookEvents(tune.Callback):
    """The callback Tune holds, and pickles into tuner.pkl: it forwards each event to the TrialBook of this process.
    A restored Tuner calls an unpickled copy of the first run's callbacks; through this, a resumed sweep's events
    reach the book of the run that resumed it."""

    def setup(self, **info) -> None:
        pass

    def on_step_begin(self, **info) -> None:
        _book().on_step_begin(**info)

    def on_step_end(self, **info) -> None:
        _book().on_step_end(**info)

    def on_trial_start(self, **info) -> None:
        _book().on_trial_start(**info)

    def on_trial_result(self, **info) -> None:
        _book().on_trial_result(**info)

    def on_trial_complete(self, **info) -> None:
        _book().on_trial_complete(**info)

    def on_trial_error(self, **info) -> None:
        _book().on_trial_error(**info)

    def on_trial_recover(self, **info) -> None:
        _book().on_trial_recover(**info)

    def on_experiment_end(self, **info) -> None:
        _book().on_experiment_end(**info)


@contextmanager
def active(book: TrialBook):
    """Route Tune's events to `book` while the sweep runs."""
    _ACTIVE.append(book)
    try:
        yield BookEvents()
    finally:
        _ACTIVE.remove(book)


def _book() -> TrialBook:
    if not _ACTIVE:
        raise RuntimeError("Tune called latentsweep's bookkeeping outside a running sweep")
    return _ACTIVE[-1]


def _trim(sweep: Location, row: dict[str, Any], keep: str) -> dict[str, Any]:
    try:
        return trim_trial(sweep, row, keep)
    except OSError as error:
        return {"problem": f"trimming its checkpoints failed: {error}"}


def _folder(trial) -> str:
    """The trial's folder name in the sweep: its row's trial_id."""
    return Path(trial.path).name


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None)
    try:
        text = Path(path).read_text() if path else ""
    except OSError:
        text = ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:2000] if lines else "trial failed (no error file)"


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as plain Python values (a pickled numpy scalar would tie the task to this numpy)."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}
