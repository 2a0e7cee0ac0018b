"""What a large sweep will cost, printed before it starts: its trials, its storage and the compute it needs."""

from __future__ import annotations

import math
from collections import Counter

from sweeps.settings import SweepSettings
from sweeps.space import grid_configs, trial_config
from vaemodels import TrialConfig, measure_throughput, pick_device

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
