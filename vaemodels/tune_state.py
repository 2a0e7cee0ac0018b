"""A reader of Tune's saved experiment state (ray 2.60's `experiment_state-*.json`), without importing Ray.

It is a private format that lags behind the trials (saved every few seconds), so trials.parquet rebuilds read it
only where a trial folder cannot decide: a trial stopped early by a scheduler, and a trial Tune never recorded.
The layout read here, checked against ray 2.60: {"trial_data": [[trial_json, run_metadata_json], ...], ...},
where trial_json is a JSON string holding "relative_logdir" (the trial folder) and "status", and
run_metadata_json a JSON string whose "error_filename" is set once the trial has failed for good.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from vaemodels.storage import Location

STATE_PREFIX, STATE_SUFFIX = "experiment_state-", ".json"


@dataclass(frozen=True)
class SchedulerState:
    """What Tune's saved state says of a trial, for the cases its folder cannot decide."""

    status: str
    error: str | None = None


def scheduler_states(sweep: Location) -> dict[str, SchedulerState] | None:
    """Trial folder name -> Tune's status, from the newest saved state; None when there is none (or unreadable)."""
    names = sorted(
        info.base_name
        for info in sweep.list()
        if info.base_name.startswith(STATE_PREFIX) and info.base_name.endswith(STATE_SUFFIX)
    )
    if not names:
        return None
    try:
        return parse_experiment_state(sweep.join(names[-1]).read_text())
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None  # another Ray version's layout, or a file being written: the folders decide alone


def parse_experiment_state(text: str) -> dict[str, SchedulerState]:
    """The statuses in one experiment_state file; raises on a layout other than ray 2.60's."""
    states = {}
    for trial_json, run_json in json.loads(text)["trial_data"]:
        trial, run = json.loads(trial_json), json.loads(run_json)
        status = trial["status"]
        error = "trial failed (see its error.txt)" if run.get("error_filename") else None
        states[trial["relative_logdir"]] = SchedulerState("ERROR" if error and status == "ERROR" else status, error)
    return states
