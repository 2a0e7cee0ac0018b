"""The trial folder: its file names, its layout, and the trial summary each checkpoint carries.

Every name of a file in a trial folder is spelled here and nowhere else. A checkpoint (schema 2 on) holds
`summary.json`: the trial's trials.parquet row as of that checkpoint, its paths relative to the trial folder.
Rebuilding the table reads one summary a trial (its newest checkpoint's) instead of every history.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from vaemodels.config import CONFIG_KEYS, SCHEMA_VERSION, planned_updates
from vaemodels.metric_names import LATENT_METRICS

CHECKPOINT_PREFIX = "checkpoint_"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.pt"
OPTIMIZER_FILE = "optimizer.pt"  # dropped once a sweep trial has finished: only resuming needs it
AUXILIARY_OPTIMIZER_FILE = "auxiliary_optimizer.pt"  # the second optimiser's (FactorVAE's discriminator), likewise
OPTIMIZER_FILES = (OPTIMIZER_FILE, AUXILIARY_OPTIMIZER_FILE)
SAMPLER_FILE = "sampler.pt"  # sampling=iid: the batch generator's state, so a resumed trial draws what it would have
HISTORY_FILE = "history.json"
LATENTS_FILE = "latents.parquet"  # its format: vaemodels/embeddings.py
SUMMARY_FILE = "summary.json"
DCI_FILE = "dci.json"  # beside the best latents.parquet: the whole-trial metrics, computed after the trial
DIVERGED_FILE = "diverged.json"  # in the checkpoint of a trial whose loss became NaN
ABANDONED_FILE = "abandoned.json"  # a trial folder set aside on resume: Tune never learned of the trial
RAY_ERROR_FILE, RAY_PARAMS_FILE = "error.txt", "params.json"  # what Ray leaves in a trial folder
ATTEMPT_FILE = "attempt.json"  # how many times the trial has started: a sweep's trial writes it as it starts
SUMMARY_SCHEMA = 2  # the first schema version whose checkpoints carry summary.json

# Columns of a row that are not the last epoch's metrics.
_NOT_LAST = {"val_kl_per_dim", "node", "device", "diverged", "lr", *LATENT_METRICS}


def checkpoint_name(epoch: int) -> str:
    """Folder name of an epoch's checkpoint; numbered from 0 like Tune's own."""
    return f"{CHECKPOINT_PREFIX}{epoch - 1:06d}"


def is_checkpoint_name(name: str) -> bool:
    return name.startswith(CHECKPOINT_PREFIX)


def trial_summary(
    config: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    finished: bool,
    diverged: bool = False,
    last_checkpoint: str | None = None,
) -> dict[str, Any]:
    """The trial's row as of the newest epoch in `history` (what a checkpoint's summary.json holds).

    `finished`: the trial will report no more epochs (its planned last one, the plateau rule, or a divergence).
    A trial that a scheduler stops early never learns it; its summary stays unfinished and the driver, or a
    rebuild from Tune's saved state, says TERMINATED.
    """
    last = history[-1] if history else {}
    best = min(history, key=lambda h: finite(h.get("loss"))) if history else {}
    epochs_trained = len(history)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "status": "TERMINATED" if finished else "RUNNING",
        "diverged": diverged,
        **{key: config.get(key) for key in CONFIG_KEYS},
        **{key: value for key, value in last.items() if key not in _NOT_LAST},
        "best_loss": best.get("loss"),
        "best_epoch": best.get("epoch"),
        "epochs_trained": epochs_trained,
        "trial_seconds": sum(h.get("epoch_seconds") or 0.0 for h in history),  # its epochs' wall time so far
        "val_kl_per_dim": last.get("val_kl_per_dim"),
        **{key: best.get(key) for key in LATENT_METRICS},
        "node": last.get("node"),
        "device": last.get("device"),
        "checkpoint_path": checkpoint_name(best["epoch"]) if best else None,
        "latents_path": f"{checkpoint_name(best['epoch'])}/{LATENTS_FILE}" if best else None,
        "last_checkpoint_path": last_checkpoint or (checkpoint_name(epochs_trained) if history else None),
    }
    summary["stopped_early"] = bool(finished and not diverged and fell_short(summary))
    return summary


def fell_short(row: dict[str, Any]) -> bool:
    """Whether a trial ended before its budget: fewer updates than its max_steps allows, or fewer epochs."""
    budget = planned_updates(row.get("max_steps"), row.get("arch"), row.get("max_steps_counts"))
    if budget is not None:
        steps = row.get("steps")
        return isinstance(steps, (int, float)) and 0 < steps < budget
    planned, trained = row.get("epochs"), row.get("epochs_trained") or 0
    return bool(planned and 0 < trained < planned)


def finite(value: Any) -> float:
    """A loss as a float; NaN, infinities and non-numbers as +inf (they never win a ranking)."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def path_problem(path: str) -> str | None:
    """Why a path read from a summary.json or trials.parquet must not be followed (None: it may be).

    Both only ever hold paths relative to their own folder, written by this package; an absolute one, a URI or
    one with `..` would make a command read, load or copy files outside the sweep folder that whoever wrote the
    file chose, so it is refused instead.
    """
    if "\0" in path or path.startswith(("/", "\\")) or "://" in path or re.match(r"[A-Za-z]:", path):
        return "is absolute"
    if ".." in re.split(r"[/\\]", path):
        return "leaves the sweep folder (..)"
    return None


def contain_paths(frame: Any, columns: Iterable[str]) -> Any:
    """A trials table (a DataFrame) with each path cell that `path_problem` refuses set to None and its trial's
    `problem` saying so: the rankings pass such a trial over, `best` prints the line, and nothing follows it."""
    for column in columns:
        if column not in frame.columns:
            continue
        for index, value in frame[column].items():
            problem = path_problem(value) if isinstance(value, str) else None
            if problem is None:
                continue
            note = f"{column} {value!r} {problem}: not followed"
            earlier = frame.at[index, "problem"] if "problem" in frame.columns else None
            frame["problem"] = frame["problem"].astype(object) if "problem" in frame.columns else None
            frame[column] = frame[column].astype(object)
            frame.at[index, "problem"] = f"{earlier}; {note}" if isinstance(earlier, str) and earlier else note
            frame.at[index, column] = None
    return frame


def failures_recorded(error_text: str) -> int:
    """How many failures Ray's error.txt records: Ray appends "Failure # N (occurred at ...)" at each one."""
    numbers = [int(match) for match in re.findall(r"^Failure # (\d+)", error_text, flags=re.MULTILINE)]
    return max(numbers, default=1 if error_text.strip() else 0)


def last_attempt_failed(error_text: str, attempts_started: int) -> bool:
    """Whether the trial's latest attempt failed: as many failures recorded as attempts started. Read from what
    the files say, not when they were written: a bucket's sync uploads an old error.txt again with a new time."""
    return failures_recorded(error_text) >= attempts_started
