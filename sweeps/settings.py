"""Sweep settings and presets: a preset sets defaults, explicit flags override them, validated before Ray starts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vaemodels import ARCHITECTURES, DATASETS, LATENT_KEYS, ConfigError, TrialConfig, UserError, key_owner

SCHEDULERS = ("asha", "none")


class SettingsError(UserError, ValueError):
    """A sweep flag with an impossible value; the message names the flag."""


@dataclass(frozen=True)
class SweepSettings:
    """Everything that defines a sweep. Saved beside trials.parquet; a resume must match it."""

    preset: str = "quick"
    name: str = ""
    archs: tuple[str, ...] = field(default_factory=lambda: tuple(ARCHITECTURES))  # every registered one
    beta_range: tuple[float, float] = (0.1, 16.0)
    betas: tuple[float, ...] = ()  # non-empty: a grid instead of an Optuna search
    latent_dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    seeds: tuple[int, ...] = ()  # non-empty: every configuration once per seed (a grid)
    lr_range: tuple[float, float] = (1e-4, 3e-3)
    num_samples: int = 8
    scheduler: str = "none"
    metric: str = "loss"
    mode: str = "min"
    # Two or more: a multi-objective Optuna search (multi-objective TPE); the single metric/mode are then unused.
    metrics: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    seed: int = 0  # the searcher's seed
    fixed: dict[str, Any] = field(default_factory=dict)  # flat config keys every trial shares

    @property
    def is_grid(self) -> bool:
        return bool(self.betas)

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric, mode) of each objective: --metrics/--modes, or the one --metric/--mode."""
        return list(zip(self.metrics, self.modes)) if self.metrics else [(self.metric, self.mode)]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict, the form stored beside the sweep and compared on resume."""
        return {key: list(v) if isinstance(v, tuple) else v for key, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, stored: Any) -> SweepSettings:
        """Settings as `to_json` stored them (sweep.json, trials.parquet's metadata); SettingsError when unusable."""
        if not isinstance(stored, dict):
            raise SettingsError("no sweep settings are stored (made by an older version?)")
        try:
            return cls(**{key: tuple(v) if isinstance(v, list) else v for key, v in stored.items()})
        except TypeError as error:
            raise SettingsError(f"the stored sweep settings are of another version: {error}") from None

    @property
    def dataset(self) -> str:
        """The dataset every trial trains on (the fixed one, or the config's default)."""
        return TrialConfig.from_dict({k: v for k, v in self.fixed.items() if k == "dataset"}).data.dataset


PRESETS: dict[str, dict[str, Any]] = {
    # The README demo: a few small trials on real digits, minutes on 2 cores.
    "quick": {
        "latent_dims": (2, 4, 8),
        "beta_range": (0.5, 8.0),
        "num_samples": 6,
        "fixed": {"dataset": "mnist_5k", "epochs": 4, "batch_size": 128, "embed_samples": 1000},
    },
    # The original project's grid and settings (SEED_NOTES.md), as a Tune grid search.
    "original-grid": {
        "archs": ("conditional", "branched"),
        "betas": (2.0, 4.0, 8.0),
        "latent_dims": (4, 10),
        "seeds": (0,),
        "fixed": {
            "dataset": "mnist_5k",
            "net": "original",
            "recon": "gaussian",
            "batch_size": 32,
            "lr": 1e-4,
            "epochs": 9,
            "plateau_stop": True,
            "decoder_conditioning": False,
            "classifier_on": "features",
        },
    },
    # An Optuna search with ASHA stopping the unpromising trials early.
    "search": {"num_samples": 20, "scheduler": "asha", "fixed": {"dataset": "mnist_5k", "epochs": 10}},
}

# Flags a grid (--betas) has no use for, and why: refused rather than silently dropped.
_NOT_FOR_A_GRID = {
    "beta_range": ("--beta-range", "its betas come from --betas"),
    "num_samples": ("--num-samples", "it trains every combination once per seed (repeat with --seeds)"),
    "seed": ("--seed", "it has no Optuna searcher to seed (trial seeds: --seeds)"),
}


def make_settings(preset: str, overrides: dict[str, Any], fixed_overrides: dict[str, Any]) -> SweepSettings:
    """The preset's settings with explicit flags (non-None values) and fixed config keys applied, validated."""
    if preset not in PRESETS:
        raise SettingsError(f"--preset {preset!r} is unknown; choose from {', '.join(PRESETS)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    values["fixed"] = {**PRESETS[preset].get("fixed", {}), **fixed_overrides}
    if overrides.get("seeds") and not values.get("betas"):
        raise SettingsError("--seeds makes a grid: give --betas too (for example --betas 1,4,16)")
    if values.get("betas"):
        grid_from = "--betas" if overrides.get("betas") else f"--preset {preset} (a grid)"
        for key, (flag, why) in _NOT_FOR_A_GRID.items():
            if overrides.get(key) is not None:
                raise SettingsError(f"{flag} conflicts with {grid_from}: a grid ignores it, as {why}")
    settings = SweepSettings(preset=preset, **{**values, "name": values.get("name") or preset})
    validate(settings)
    for key in fixed_overrides:  # a flag the chosen architectures would all drop
        owner = key_owner(key)
        if owner is not None and owner not in settings.archs:
            flag = "--" + key.replace("_", "-")
            raise SettingsError(
                f"{flag} applies only to arch={owner}, which --archs {','.join(settings.archs)} leaves out"
            )
    return settings


def validate(settings: SweepSettings) -> None:
    """Check every flag before Ray starts; each error names its flag."""
    unknown = [arch for arch in settings.archs if arch not in ARCHITECTURES]
    if not settings.archs or unknown:
        raise SettingsError(
            f"--archs {','.join(settings.archs)!r}: unknown architecture; choose from {', '.join(ARCHITECTURES)}"
        )
    low, high = settings.beta_range
    if not 0 < low < high:
        raise SettingsError(f"--beta-range {low} {high}: needs 0 < LO < HI (beta is searched log-uniformly)")
    if any(beta < 0 for beta in settings.betas):
        raise SettingsError(f"--betas {settings.betas}: beta must be >= 0")
    if not settings.latent_dims or any(d < 1 for d in settings.latent_dims):
        raise SettingsError(f"--latent-dims {settings.latent_dims}: give one or more integers >= 1")
    if settings.scheduler not in SCHEDULERS:
        raise SettingsError(f"--scheduler {settings.scheduler!r}: choose from {', '.join(SCHEDULERS)}")
    if settings.mode not in ("min", "max"):
        raise SettingsError(f"--mode {settings.mode!r}: choose min or max")
    if settings.num_samples < 1:
        raise SettingsError(f"--num-samples {settings.num_samples}: must be >= 1")
    if settings.metrics:
        _validate_objectives(settings)
    for arch in settings.archs:  # every architecture must accept the shared keys
        try:
            TrialConfig.from_dict({**fixed_for(settings, arch), "arch": arch})
        except ConfigError as error:
            raise SettingsError(f"the sweep's fixed config does not fit arch={arch!r}: {error}") from error


# What every epoch's report carries (sweeps/trial.py fills the latent metrics of the best epoch so far in).
_EPOCH_METRICS = ("loss", *LATENT_KEYS)


def _validate_objectives(settings: SweepSettings) -> None:
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
        if metric not in _EPOCH_METRICS and not metric.startswith(("val_", "train_")):
            raise SettingsError(
                f"--metrics {metric}: not in every epoch's report; choose from {', '.join(_EPOCH_METRICS)} "
                "or a train_/val_ loss term (DCI is computed only once a trial has finished)"
            )
    if "mig" in metrics and not DATASETS[settings.dataset].factor_names:
        raise SettingsError(f"--metrics mig: dataset {settings.dataset!r} has no ground-truth factors (shapes has)")


def fixed_for(settings: SweepSettings, arch: str) -> dict[str, Any]:
    """The fixed config keys that apply to one architecture."""
    return {k: v for k, v in settings.fixed.items() if key_owner(k) in (None, arch)}


def shared_fixed(settings: SweepSettings) -> dict[str, Any]:
    """The fixed config keys that apply to every architecture."""
    return {k: v for k, v in settings.fixed.items() if key_owner(k) is None}
