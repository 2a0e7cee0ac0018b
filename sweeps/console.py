"""What a sweep prints unless --verbose: one bar of trials, one line a finished or failed trial, and the summary.

Tune's own reporter prints a box of every trial's config and every epoch's result (483 lines for the six trials of
the quick demo); `--verbose` brings it back. The bar is drawn on a terminal only; logs and CI get the lines.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

from tqdm import tqdm

from sweeps.ranking import describe_config, metric_column
from vaemodels import finite, is_missing, planned_updates


class Console:
    """The sweep's progress: started, finished, errored and the best so far, from the bookkeeping's rows."""

    def __init__(self, planned: int | None, metric: str = "loss", mode: str = "min") -> None:
        self.column = metric_column(metric)
        self.sign = 1.0 if mode == "min" else -1.0
        self.best: tuple[float, str] | None = None
        self.running: set[str] = set()
        self.finished = self.errored = 0
        self.bar = tqdm(total=planned, unit="trial", desc="trials", file=sys.stderr, disable=None, leave=False)

    def counted(self, rows: list[dict[str, Any]]) -> None:
        """Trials finished or errored before this run (a resume): counted, not printed."""
        for row in rows:
            if row["status"] == "TERMINATED":
                self.finished += 1
                self._consider(row)
            elif row["status"] == "ERROR":
                self.errored += 1
        self._refresh(self.finished + self.errored)

    def started(self, trial_id: str) -> None:
        self.running.add(trial_id)
        self._refresh(0)

    def finished_trial(self, row: dict[str, Any], seconds: float | None) -> None:
        self.running.discard(row["trial_id"])
        self.finished += 1
        self._consider(row)
        self.bar.write(f"{row['trial_id']}  {describe_config(row)}  {self._outcome(row)}{_took(row, seconds)}")
        self._refresh(1)

    def errored_trial(self, row: dict[str, Any]) -> None:
        self.running.discard(row["trial_id"])
        self.errored += 1
        self.bar.write(f"{row['trial_id']}  {describe_config(row)}  errored: {row.get('error') or 'no error text'}")
        self._refresh(1)

    def close(self) -> None:
        self.bar.close()

    def _outcome(self, row: dict[str, Any]) -> str:
        if _flag(row.get("diverged")):
            return f"diverged after {row.get('epochs_trained') or 0} epochs"
        value = row.get(self.column)
        text = f"{self.column} {value:.4g}" if isinstance(value, (int, float)) else f"{self.column} -"
        if _flag(row.get("stopped_early")):
            planned = planned_updates(row.get("max_steps"), row.get("arch"), row.get("max_steps_counts"))
            if planned is not None:
                text += f", stopped early at step {row.get('steps')} of {planned}"
            else:
                text += f", stopped early at epoch {row.get('epochs_trained')} of {row.get('epochs')}"
        return text

    def _consider(self, row: dict[str, Any]) -> None:
        value = finite(row.get(self.column)) if not _flag(row.get("diverged")) else math.inf
        if math.isfinite(value) and (self.best is None or self.sign * value < self.sign * self.best[0]):
            self.best = (value, row["trial_id"])

    def _refresh(self, done: int) -> None:
        postfix = {"running": len(self.running), "errored": self.errored}
        if self.best is not None:
            postfix["best"] = f"{self.best[1]} {self.best[0]:.4g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(done)


def finishing_line(count: int, dci: str | None, scores: str | None, keep: str) -> str:
    """What the end of a sweep waits for, and why that many: a trial is finished (DCI, the scores, its summary, its
    optimizer state dropped) beside the training ones, so only those still queued or running then are left."""
    trials = "1 trial" if count == 1 else f"{count} trials"
    computed = " and ".join(
        part for part in (f"DCI with {dci}" if dci else "", f"the {scores} scores" if scores else "") if part
    )
    computed = f"{computed} computed, " if computed else ""
    kept = {"best-and-last": "the best and the last", "best": "the best"}.get(keep, keep)
    return (
        f"finishing {trials} (still queued or running when the last trial stopped training): {computed}each trial's "
        f"summary written and its optimizer state dropped; then UDR over the seeds, and the checkpoints trimmed to "
        f"{kept}"
    )


class OnceEach(logging.Filter):
    """Let each distinct log message through once: Ray repeats some warnings at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def _flag(value: Any) -> bool:
    """A yes/no cell: a missing one (None, or NaN from a table) is no."""
    return not is_missing(value) and bool(value)


def _took(row: dict[str, Any], seconds: float | None) -> str:
    epochs = row.get("epochs_trained") or 0
    timing = f" in {seconds:.0f} s" if seconds else ""
    return f"  ({epochs} epoch{'s' if epochs != 1 else ''}{timing})"
