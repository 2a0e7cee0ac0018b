"""The search space, declared once: an Optuna define-by-run function, or a grid, over the registry."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from sweeps.settings import SweepSettings, fixed_for, shared_fixed
from vaemodels import TrialConfig, takes_key

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
        for name, parameter in settings.parameters.items():
            if takes_key(arch, name):  # another architecture's keys, or one this one excludes, do not exist here
                parameter.suggest(trial, name)
        return fixed_for(settings, arch)  # constants: OptunaSearch merges them into the trial's config


def grid_axes(settings: SweepSettings) -> dict[str, list[Any]]:
    """The grid's axes: architecture (with its own fixed and gridded keys), then each shared key's values, seed."""
    shared = shared_fixed(settings)
    per_arch = []
    common = [name for name in settings.parameters if all(takes_key(arch, name) for arch in settings.archs)]
    for arch in settings.archs:  # its own keys, and shared ones some other architecture excludes (beta)
        own = {k: v for k, v in fixed_for(settings, arch).items() if k not in shared} | {"arch": arch}
        gridded = {
            name: p.values for name, p in settings.parameters.items() if name not in common and takes_key(arch, name)
        }
        per_arch += [own | dict(zip(gridded, values)) for values in itertools.product(*gridded.values())]
    axes: dict[str, list[Any]] = {ARCH_KEYS: per_arch}
    axes |= {name: list(settings.parameters[name].values) for name in common}
    axes.setdefault("seed", [settings.fixed.get("seed", 0)])
    return axes


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
