"""The sweep as an Optuna study, built from trials.parquet: what optuna-dashboard, a notebook or `optuna` open.

The study is rebuilt from the table rather than kept by the searcher's own storage. The table is the sweep's
truth on any storage (a bucket cannot append a journal), and it holds every trial Tune knew, exactly once,
after a driver kill too. A journal of the searcher would also hold the trials it suggested just before a kill,
which Tune never ran, and would pickle its own absolute path into the searcher. The cost is a copy: a local
SQLite file, written again when the table changes (`StudyMirror.sync`).

States: a finished trial is COMPLETE with its metric (`best_loss` for `loss`), PRUNED when a scheduler stopped
it early, FAIL when it diverged; an errored trial is FAIL; a running or pending one is RUNNING. Each trial keeps
its Tune trial id as the user attribute `trial_id`, and its numeric results as further user attributes.
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeps.ranking import metric_column
from sweeps.settings import SweepSettings
from sweeps.space import SearchSpace, grid_axes
from vaemodels import LATENT_METRICS, is_missing

USER_ATTRS = ("epochs_trained", "best_epoch", "val_recon", "val_kl", *LATENT_METRICS, "trial_seconds")


class _Recorder:
    """A stand-in Optuna trial that records what the sweep's own search space asks for, with `arch` pinned."""

    def __init__(self, arch: str) -> None:
        self.arch = arch
        self.distributions: dict[str, BaseDistribution] = {}

    def suggest_categorical(self, name: str, choices: list) -> Any:
        self.distributions[name] = CategoricalDistribution(choices)
        return self.arch if name == "arch" else choices[0]

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        self.distributions[name] = FloatDistribution(low, high, log=log)
        return low

    def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> int:
        self.distributions[name] = IntDistribution(low, high, log=log)
        return low


def search_distributions(settings: SweepSettings) -> dict[str, BaseDistribution]:
    """Every parameter the sweep searches, with its distribution: read off the search space itself (one owner)."""
    if settings.is_grid:
        seeds = grid_axes(settings)["seed"]
        axes = {name: list(parameter.values) for name, parameter in settings.parameters.items()} | {"seed": seeds}
        return {"arch": CategoricalDistribution(list(settings.archs))} | {
            name: CategoricalDistribution(values) for name, values in axes.items()
        }
    found: dict[str, BaseDistribution] = {}
    for arch in settings.archs:
        recorder = _Recorder(arch)
        SearchSpace(settings)(recorder)
        found.update(recorder.distributions)
    return found


def frozen_trial(row: dict[str, Any], distributions: dict[str, BaseDistribution], columns: list[str]) -> FrozenTrial:
    """One table row as an Optuna trial (not yet numbered)."""
    params, used = {}, {}
    for name, distribution in distributions.items():
        value = _plain(row.get(name))
        if value is None:
            continue  # a key of another architecture
        if _admits(distribution, value):  # a value outside its range (the flags changed) is left out, not forced
            params[name], used[name] = value, distribution
    state, values = _state(row, columns)
    attrs = {"trial_id": str(row["trial_id"])}
    attrs.update({key: _plain(row[key]) for key in USER_ATTRS if _finite(row.get(key))})
    if isinstance(row.get("error"), str):
        attrs["error"] = row["error"]
    trial = optuna.trial.create_trial(state=state, values=values, params=params, distributions=used, user_attrs=attrs)
    started, seconds = _plain(row.get("started_at")), _plain(row.get("trial_seconds"))
    if isinstance(started, (int, float)):  # Optuna's history and timeline then show the sweep's own times
        trial.datetime_start = datetime.fromtimestamp(started)
        if state != TrialState.RUNNING:
            trial.datetime_complete = datetime.fromtimestamp(started + (seconds or 0.0))
    return trial


def _state(row: dict[str, Any], columns: list[str]) -> tuple[TrialState, list[float] | None]:
    status = row.get("status")
    if status == "ERROR":
        return TrialState.FAIL, None
    if status != "TERMINATED":
        return TrialState.RUNNING, None
    values = [row.get(column) for column in columns]
    if _plain(row.get("diverged")) or not all(map(_finite, values)):  # _plain: a missing cell is NaN, truthy
        return TrialState.FAIL, None
    state = TrialState.PRUNED if _plain(row.get("stopped_early")) else TrialState.COMPLETE
    return state, [float(value) for value in values]


class StudyMirror:
    """A study in an Optuna storage that follows a sweep's table: new trials added, running ones finished."""

    def __init__(self, storage_url: str, settings: SweepSettings) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage = optuna.storages.RDBStorage(storage_url)
        self.settings = settings
        self.columns = [metric_column(metric) for metric, _ in settings.objectives]
        self.distributions = search_distributions(settings)
        directions = ["minimize" if mode == "min" else "maximize" for _, mode in settings.objectives]
        study = optuna.create_study(storage=self.storage, study_name=settings.name, directions=directions)
        with warnings.catch_warnings():  # experimental since Optuna 3.2, and what the dashboard labels its axis by
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(self.columns)
        self.study_id = study._study_id
        self.numbers: dict[str, int] = {}  # Tune trial id -> the storage's trial id
        self.states: dict[str, TrialState] = {}

    def sync(self, frame: pd.DataFrame) -> int:
        """Bring the study up to the table; how many trials were added or changed."""
        changed = 0
        if "started_at" in frame:  # trial numbers in the order the trials started (the table is sorted by loss)
            frame = frame.sort_values("started_at", na_position="last", kind="stable")
        for row in frame.to_dict("records"):
            trial_id = str(row["trial_id"])
            trial = frozen_trial(row, self.distributions, self.columns)
            if trial_id not in self.numbers:
                self.numbers[trial_id] = self.storage.create_new_trial(self.study_id, template_trial=trial)
            elif self.states[trial_id] == TrialState.RUNNING and trial.state != TrialState.RUNNING:
                for key, value in trial.user_attrs.items():
                    self.storage.set_trial_user_attr(self.numbers[trial_id], key, value)
                self.storage.set_trial_state_values(self.numbers[trial_id], trial.state, trial.values)
            else:
                continue  # unchanged, or finished already (an Optuna trial cannot leave a finished state)
            self.states[trial_id] = trial.state
            changed += 1
        return changed


def _admits(distribution: BaseDistribution, value: Any) -> bool:
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    return isinstance(value, (int, float)) and distribution.low <= value <= distribution.high


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value; a missing one (None or NaN) as None."""
    if hasattr(value, "item"):
        value = value.item()
    return None if is_missing(value) else value


def _finite(value: Any) -> bool:
    value = _plain(value)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
