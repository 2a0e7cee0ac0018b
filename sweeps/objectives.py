"""The objectives a sweep ranks its trials by: only what every epoch's report carries can guide Tune and Optuna."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sweeps.parameters import SettingsError
from vaemodels import DATASETS, LATENT_KEYS

if TYPE_CHECKING:
    from sweeps.settings import SweepSettings

# What every epoch's report carries (sweeps/trial.py fills the latent metrics of the best epoch so far in).
_EPOCH_METRICS = ("loss", *LATENT_KEYS)


def validate_objectives(settings: SweepSettings) -> None:
    """--metrics/--modes: combinations that cannot work are refused here, before Ray starts."""
    metrics, modes = settings.metrics, settings.modes
    if len(metrics) < 2:
        raise SettingsError(f"--metrics {','.join(metrics)}: give two or more (one metric: --metric)")
    if len(modes) != len(metrics) or any(mode not in ("min", "max") for mode in modes):
        raise SettingsError(f"--modes {','.join(modes)}: give min or max for each of --metrics {','.join(metrics)}")
    if settings.metric != "loss" or settings.mode != "min":
        raise SettingsError("--metric/--mode conflict with --metrics/--modes: give one or the other")
    if settings.is_grid:
        raise SettingsError("--metrics conflicts with a grid (--betas): a grid has no searcher to guide")
    if settings.scheduler == "asha":
        raise SettingsError("--metrics conflicts with --scheduler asha: ASHA stops trials by one metric")
    for metric in metrics:
        check_rankable(f"--metrics {metric}", metric, settings.dataset)


def check_rankable(where: str, metric: str, dataset: str) -> None:
    """Tune and the searcher read the metric from every epoch's report (ASHA stops trials on it, the searcher's
    trials are told it): a metric computed only once a trial has finished (DCI, the scores) can rank nothing."""
    if metric not in _EPOCH_METRICS and not metric.startswith(("val_", "train_")):
        raise SettingsError(
            f"{where}: not in every epoch's report, so it cannot rank a search; choose from "
            f"{', '.join(_EPOCH_METRICS)} or a train_/val_ loss term (DCI, scores: once a trial has finished)"
        )
    if metric == "mig" and not DATASETS[dataset].factor_names:
        raise SettingsError(f"{where}: dataset {dataset!r} has no ground-truth factors (shapes has)")
