"""Hyperparameter importance for one metric, from the trials table alone (no Ray, no stored study).

The evaluator is Optuna's fANOVA (`optuna.importance.FanovaImportanceEvaluator`, Hutter et al. 2014, "An Efficient
Approach for Assessing Hyperparameter Importance"): a random forest fitted to metric ~ hyperparameters, whose variance
is split into each hyperparameter's share (32 trees of depth 8: the default 64-deep forest took 59 s on 2,000
trials). It runs on an in-memory study rebuilt from the table's rows, seeded, so the
same table gives the same numbers. Only hyperparameters set in every counted trial take part (Optuna evaluates the
intersection of the trials' search spaces), so a conditional key such as classifier_weight drops out of a mixed sweep.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd

from vaemodels import CONFIG_KEYS

EVALUATOR = "Optuna fANOVA (random forest of 32 trees, depth 8, seed 0; a seeded sample of 500 trials when more)"
MAX_TRIALS = 500  # fANOVA's cost grows with the forest's leaves: 2,000 trials took 4.7 s, 500 about 1 s
LOG_KEYS = ("lr", "beta")  # log axes whenever positive; others when positive and spanning 20x
MIN_TRIALS = 4
FIXED_KEYS = ("data_dir", "epochs", "embed_samples", "precision")  # settings, not searched


def searched_keys(frame: pd.DataFrame) -> list[str]:
    """Config keys that vary between the trials (NaN counts as not set)."""
    keys = [k for k in CONFIG_KEYS if k in frame and k not in FIXED_KEYS]
    return [k for k in keys if frame[k].dropna().astype(str).nunique() > 1]


def distribution(values: pd.Series) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution a column's observed values span (log for lr and beta, or wide positive ranges)."""
    present = values.dropna()
    if present.dtype.kind == "b" or present.dtype.kind not in "fiu":
        return optuna.distributions.CategoricalDistribution(sorted(present.astype(str).unique()))
    low, high = float(present.min()), float(present.max())
    log = low > 0 and (values.name in LOG_KEYS or high / low >= 20)
    if present.dtype.kind in "iu":
        return optuna.distributions.IntDistribution(int(low), int(high), log=log)
    return optuna.distributions.FloatDistribution(low, high, log=log)


def study_from_table(frame: pd.DataFrame, metric: str, minimize: bool = True) -> optuna.Study:
    """An in-memory study with one finished trial per row that has the metric, over the varying config keys."""
    if metric not in frame:
        raise KeyError(f"trials table has no column {metric!r}")
    rows = frame[frame[metric].notna() & np.isfinite(frame[metric].astype(float))]
    if len(rows) > MAX_TRIALS:
        rows = rows.sample(n=MAX_TRIALS, random_state=0)
    keys = searched_keys(rows)
    distributions = {k: distribution(rows[k].rename(k)) for k in keys}
    study = optuna.create_study(direction="minimize" if minimize else "maximize")
    trials = []
    for _, row in rows.iterrows():
        params = {k: _param(row[k], distributions[k]) for k in keys if _is_set(row[k])}
        trials.append(
            optuna.trial.create_trial(
                params=params, distributions={k: distributions[k] for k in params}, value=float(row[metric])
            )
        )
    study.add_trials(trials)
    return study


def importances(frame: pd.DataFrame, metric: str, minimize: bool = True) -> dict[str, float]:
    """Each hyperparameter's share of the metric's variance (fANOVA; sums to 1), largest first; {} when too few
    trials or nothing varies."""
    study = study_from_table(frame, metric, minimize)
    if len(study.trials) < MIN_TRIALS:
        return {}
    evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=32, max_depth=8, seed=0)
    try:
        found = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    except (ValueError, RuntimeError):  # no parameter common to all trials, or all values equal
        return {}
    return {key: float(value) for key, value in found.items() if math.isfinite(value)}


def _is_set(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _param(value: object, dist: optuna.distributions.BaseDistribution) -> object:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return str(value)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return int(value)
    return float(value)
