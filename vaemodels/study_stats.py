"""What a study found, as numbers: configurations, the spread of a score over seeds, how scores agree.

Shared by `latentsweep study` (figures and a Markdown report) and the explorer's Study view; pandas and numpy only.
Locatello et al. 2019 ("Challenging common assumptions in the unsupervised learning of disentangled
representations") show each score's distribution over random seeds for every method and hyperparameter value, and
the rank correlation between the scores; a configuration here is the same thing: a method and its hyperparameter
values, whatever the seeds.
"""

from __future__ import annotations

import operator
from functools import reduce

import numpy as np
import pandas as pd

from vaemodels.architectures import ARCHITECTURES
from vaemodels.config import CONFIG_KEYS
from vaemodels.metric_names import DCI_KEYS, SCORE_KEYS

BOOTSTRAP_SAMPLES = 2000
# The disentanglement scores first, then the latent space's other statistics.
STUDY_SCORES = ("mig", *DCI_KEYS, *SCORE_KEYS, "udr", "gaussian_tc", "probe_accuracy", "active_units")
NOT_HYPERPARAMETERS = ("arch", "seed", "data_seed", "data_dir")  # vary without making another configuration


def configuration_labels(frame: pd.DataFrame) -> pd.Series:
    """'beta_tcvae tc_weight=6' for each row: its architecture and the keys that vary within that architecture's
    trials, leaving out the seeds."""
    labels = pd.Series("", index=frame.index, dtype=object)
    for arch, rows in frame.groupby("arch", sort=False):
        keys = [
            key
            for key in CONFIG_KEYS
            if key in rows and key not in NOT_HYPERPARAMETERS and rows[key].astype(str).nunique() > 1
        ]
        parts = [rows[key].map(lambda value, key=key: f" {key}={_short(value)}") for key in keys]
        labels[rows.index] = reduce(operator.add, parts, pd.Series(str(arch), index=rows.index, dtype=object))
    return labels


def swept_keys(frame: pd.DataFrame) -> list[str]:
    """The config keys whose value differs between the trials (the seed too; a missing value is not one), in
    CONFIG_KEYS order; `arch` alone when none does."""
    keys = [key for key in CONFIG_KEYS if key in frame and key != "data_dir"]
    varying = [key for key in keys if frame[key].dropna().astype(str).nunique() > 1]
    return varying or [key for key in ("arch",) if key in frame]


def has_seed_replicates(frame: pd.DataFrame) -> bool:
    """True when some configuration was trained with more than one seed: the only case a spread over seeds shows."""
    if frame.empty or "arch" not in frame or "seed" not in frame:
        return False
    labelled = frame.assign(configuration=configuration_labels(frame))
    return bool((labelled.groupby("configuration")["seed"].nunique() > 1).any())


def median_interval(values: np.ndarray, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """The median and a percentile-bootstrap interval of it (`BOOTSTRAP_SAMPLES` resamples, seeded)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(values, size=(BOOTSTRAP_SAMPLES, len(values)), replace=True), axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(np.median(values)), float(low), float(high)


def scores_present(frame: pd.DataFrame) -> list[str]:
    """The scores the table holds a value of, in `STUDY_SCORES` order."""
    return [name for name in STUDY_SCORES if name in frame and frame[name].notna().any()]


def summary_table(frame: pd.DataFrame, scores: list[str], seed: int = 0) -> pd.DataFrame:
    """One row a configuration: its seed count and each score's median with its interval."""
    rows = []
    labelled = frame.assign(configuration=configuration_labels(frame))
    groups = sorted(labelled.groupby("configuration", sort=False), key=lambda item: label_order(item[0]))
    for label, group in groups:
        row: dict[str, object] = {"configuration": label, "seeds": len(group)}
        for score in scores:
            row[score] = median_interval(group[score].to_numpy(), seed)
        rows.append(row)
    return pd.DataFrame(rows)


def rank_correlation(frame: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """Spearman correlation between every pair of scores over the trials that have both."""
    return frame[scores].astype(float).corr(method="spearman")


def rank_disagreement(frame: pd.DataFrame, first: str, second: str, top: int = 10) -> pd.DataFrame:
    """The `top` trials whose rank differs most between two scores (rank 1 = highest), largest difference first.

    Ranks are over the trials that have both scores; ties share their mean rank.
    """
    both = frame[list(dict.fromkeys(["trial_id", first, second]))].dropna()
    ranks = both.assign(**{f"rank {name}": both[name].astype(float).rank(ascending=False) for name in (first, second)})
    ranks["rank difference"] = (ranks[f"rank {first}"] - ranks[f"rank {second}"]).abs()
    return ranks.sort_values("rank difference", ascending=False, kind="stable").head(top).reset_index(drop=True)


def label_order(label: str) -> tuple:
    """Registry order of the architecture, then its hyperparameter values, numbers as numbers."""
    arch, *parts = label.split(" ")
    position = list(ARCHITECTURES).index(arch) if arch in ARCHITECTURES else len(ARCHITECTURES)
    return (position, *(_as_number(part.partition("=")[2]) for part in parts))


def _as_number(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
