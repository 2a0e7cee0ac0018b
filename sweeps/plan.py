"""What a sweep will do, printed before it starts: the keys it searches; for a large one, its trials, its storage and
the compute it needs."""

from __future__ import annotations

import math
from collections import Counter

from sweeps.parameters import SHARED_SEARCH, Choice, Parameter, from_registry
from sweeps.settings import SweepSettings
from sweeps.space import grid_configs, trial_config
from vaemodels import ARCHITECTURES, TrialConfig, key_owner, measure_throughput, pick_device

MEASURED_STEPS = 5  # a method's median step time over these (after two warm-up steps)


def plan_lines(settings: SweepSettings, sweep_uri: str, device: str | None = None) -> list[str]:
    """The plan: trial count and configurations, where it is stored, each method's images/s measured here, and the
    compute those rates imply for the step budget."""
    configs = grid_configs(settings) if settings.is_grid else [_search_config(settings)] * settings.num_samples
    per_arch = Counter(config.model.arch for config in configs)
    lines = [f"{settings.name}: {len(configs)} trials into {sweep_uri}"]
    lines.append("  " + ", ".join(f"{arch} {count}" for arch, count in per_arch.items()))
    steps = settings.fixed.get("max_steps")
    if steps is None:
        lines.append("  no step budget (max_steps): the compute depends on the dataset's size, so it is not estimated")
        return lines
    here = pick_device(device)
    rates = {arch: measure_throughput(_first(configs, arch), MEASURED_STEPS, here) for arch in per_arch}
    batch = configs[0].train.batch_size
    updates = {arch: _first(configs, arch).update_budget for arch in per_arch}  # FactorVAE: half, by optimizer_steps
    counted = ", ".join(f"{arch} {n:,}" for arch, n in updates.items() if n != steps)
    lines.append(f"  {steps:,} steps of {batch} images a trial" + (f" (updates: {counted})" if counted else ""))
    shown = ", ".join(f"{arch} {rate:,.0f}" for arch, rate in rates.items())
    lines.append(f"  measured here ({here.type}, images/s): {shown}")
    hours = sum(count * updates[arch] * batch / rates[arch] for arch, count in per_arch.items()) / 3600
    lines.append(f"  compute: about {_hours(hours)} of {here.type} time at those rates, all trials together")
    return lines


def search_line(settings: SweepSettings) -> str:
    """The keys the sweep searches and what each takes, in one line; a range no file or flag asked for is marked as
    the default, with the flag that fixes it (a search also searches lr unless told otherwise)."""
    parts = [f"arch ({', '.join(settings.archs)})"] if len(settings.archs) > 1 else []
    for name, parameter in settings.parameters.items():
        owner = key_owner(name)
        notes = [f"{owner} only"] if owner and len(settings.archs) > 1 else []
        if not settings.is_grid and parameter == _default_search(name):
            notes.append(f"searched by default, --{name.replace('_', '-')} fixes it")
        parts.append(f"{name} ({'; '.join([_described(parameter), *notes])})")
    what = "a grid over" if settings.is_grid else f"{settings.search} searches"
    return f"{what} {len(parts)} key{'s' if len(parts) != 1 else ''}: {', '.join(parts)}"


def _default_search(name: str) -> Parameter | None:
    """What a search takes for a key no file or flag sets: SHARED_SEARCH, or its architecture's registry range."""
    owner = key_owner(name)
    if owner is None:
        return SHARED_SEARCH.get(name)
    return from_registry(next(key.search for key in ARCHITECTURES[owner].keys if key.name == name))


def _described(parameter: Parameter) -> str:
    if isinstance(parameter, Choice):
        return ", ".join(f"{value:g}" if isinstance(value, float) else str(value) for value in parameter.values)
    return f"{parameter.low:g} to {parameter.high:g}, {parameter.distribution.replace('_', '-')}"


def _search_config(settings: SweepSettings) -> TrialConfig:
    """A search's trials differ in what Optuna picks; the first architecture's defaults stand for them."""
    return trial_config({**settings.fixed, "arch": settings.archs[0]})


def _first(configs: list[TrialConfig], arch: str) -> TrialConfig:
    return next(config for config in configs if config.model.arch == arch)


def _hours(hours: float) -> str:
    if hours < 1:
        return f"{math.ceil(hours * 60)} minutes"
    if hours < 48:
        return f"{hours:,.1f} hours"
    return f"{hours / 24:,.0f} days ({hours:,.0f} hours)"
