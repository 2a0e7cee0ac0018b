"""The search space, declared once: an Optuna define-by-run function, or a grid, over the registry."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sweeps.settings import SweepSettings, fixed_for, shared_fixed
from vaemodels import ARCHITECTURES, TrialConfig

ARCH_KEYS = "arch_keys"  # grid trials carry their architecture's own keys in one nested dict


class SearchSpace:
    """An Optuna define-by-run space: conditional parameters exist only with their architecture.

    A class rather than a closure: Tune pickles the searcher (with its space) to resume a sweep.
    """

    def __init__(self, settings: SweepSettings) -> None:
        self.settings = settings

    def __call__(self, trial: Any) -> dict[str, Any]:
        settings = self.settings
        arch = trial.suggest_categorical("arch", list(settings.archs))
        trial.suggest_float("beta", *settings.beta_range, log=True)
        trial.suggest_categorical("latent_dim", list(settings.latent_dims))
        if "lr" not in settings.fixed:
            trial.suggest_float("lr", *settings.lr_range, log=True)
        arch_fixed = fixed_for(settings, arch)
        for key in ARCHITECTURES[arch].keys:  # the entry's own search ranges
            if key.name not in arch_fixed:
                key.suggest(trial)
        return arch_fixed  # constants: OptunaSearch merges them into the trial's config


def grid_axes(settings: SweepSettings) -> dict[str, list[Any]]:
    """The grid's axes: architecture (with its own fixed keys), beta, latent_dim, seed."""
    shared = shared_fixed(settings)
    return {
        ARCH_KEYS: [
            {k: v for k, v in fixed_for(settings, arch).items() if k not in shared} | {"arch": arch}
            for arch in settings.archs
        ],
        "beta": list(settings.betas),
        "latent_dim": list(settings.latent_dims),
        "seed": list(settings.seeds or (settings.fixed.get("seed", 0),)),
    }


def grid_param_space(settings: SweepSettings, grid_search: Callable[[list], Any]) -> dict[str, Any]:
    """Tune's param_space for a grid: each axis through `grid_search`, the shared fixed keys as constants."""
    axes = grid_axes(settings)
    constants = {k: v for k, v in shared_fixed(settings).items() if k not in axes}
    return {**constants, **{name: grid_search(values) for name, values in axes.items()}}


def grid_configs(settings: SweepSettings) -> list[TrialConfig]:
    """Every configuration the grid trains, in order (Tune's grid_search expands the same axes)."""
    axes = grid_axes(settings)
    shared = {k: v for k, v in shared_fixed(settings).items() if k not in axes}
    return [trial_config({**shared, **dict(zip(axes, values))}) for values in itertools.product(*axes.values())]


def flatten(tune_config: dict[str, Any]) -> dict[str, Any]:
    """Tune's config dict -> the flat keys (a grid trial's architecture keys come nested)."""
    flat = dict(tune_config)
    return {**flat.pop(ARCH_KEYS, {}), **flat}


def trial_config(tune_config: dict[str, Any]) -> TrialConfig:
    """Tune's config dict -> TrialConfig: the one boundary where a dict becomes a validated config."""
    return TrialConfig.from_dict(flatten(tune_config))


def trial_count(settings: SweepSettings) -> int:
    """How many trials the sweep trains: every grid combination, or the search's num_samples."""
    return len(grid_configs(settings)) if settings.is_grid else settings.num_samples
