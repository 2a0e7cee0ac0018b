"""Sweep settings: a preset or a sweep file sets them, explicit flags override them, validated before Ray starts."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeps import sweep_file
from sweeps.objectives import check_rankable, validate_objectives
from sweeps.parameters import SHARED_SEARCH, Choice, Parameter, Range, SettingsError, from_registry
from vaemodels import (
    ARCHITECTURES,
    DATASETS,
    DCI_REGRESSOR,
    SCORE_SETTING,
    ConfigError,
    DatasetFile,
    DatasetFileError,
    TrialConfig,
    key_owner,
    metric_mode,
    register_dataset_file,
    takes_key,
)

SCHEDULERS = ("asha", "none")
__all__ = ["SettingsError", "SweepSettings", "fixed_for", "make_settings", "shared_fixed", "validate"]


@dataclass(frozen=True)
class SweepSettings:
    """Everything that defines a sweep. Saved in the sweep folder as sweep.yaml; a resume must match it."""

    preset: str = "quick"  # where the settings came from: a preset's name or a sweep file's path (not compared)
    name: str = ""
    description: str = ""
    search: str = "tpe"  # tpe, random, nsga2 (Optuna samplers, num_samples trials) or grid (every combination)
    archs: tuple[str, ...] = field(default_factory=lambda: tuple(ARCHITECTURES))  # every registered one
    # Every searched key and what it takes, resolved: the file's and the flags' own, then for a search the shared
    # defaults (SHARED_SEARCH) and each swept architecture's registry ranges; a fixed key is never searched.
    parameters: dict[str, Parameter] = field(default_factory=dict)
    num_samples: int = 8
    scheduler: str = "none"
    grace_period: int = 2  # ASHA: epochs every trial trains before it can be stopped
    reduction_factor: int = 4  # ASHA: 1/reduction_factor of the trials go on at each rung
    metric: str = "loss"
    mode: str = "min"
    # Two or more: a multi-objective Optuna search (multi-objective TPE); the single metric/mode are then unused.
    metrics: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    seed: int = 0  # the searcher's seed
    fixed: dict[str, Any] = field(default_factory=dict)  # flat config keys every trial shares
    confirm: bool = False  # a sweep this large asks for --yes, after printing its trials, storage and compute
    scores: str = SCORE_SETTING  # the sample counts of the scores after each trial: quick or reference
    dci_regressor: str = DCI_REGRESSOR  # DCI's regressor after each trial (a study's: gradient_boosting)
    # The sweep's own dataset file (--dataset-file, or fixed.dataset.file), recorded with its size and sha256;
    # fixed["dataset"] holds its name. None: a registered dataset.
    dataset_file: DatasetFile | None = None

    @property
    def is_grid(self) -> bool:
        return self.search == "grid"

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric, mode) of each objective: --metrics/--modes, or the one --metric/--mode."""
        return list(zip(self.metrics, self.modes)) if self.metrics else [(self.metric, self.mode)]

    def to_document(self) -> dict[str, Any]:
        """The settings as a sweep file's document (sweeps/sweep_file.py), every default written out."""
        return sweep_file.to_document({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict, the form stored in trials.parquet's metadata: the document and where it came from."""
        return {"preset": self.preset, **self.to_document()}

    @classmethod
    def from_json(cls, stored: Any) -> SweepSettings:
        """Settings as `to_json` stored them (or an older version's sweep.json); SettingsError when unusable."""
        if not isinstance(stored, dict):
            raise SettingsError("no sweep settings are stored (made by an older version?)")
        if "beta_range" in stored:
            return _from_old_json(stored)
        parsed = sweep_file.parse({k: v for k, v in stored.items() if k != "preset"}, "the stored sweep settings")
        return cls.from_file(parsed, stored.get("preset", ""))

    @classmethod
    def from_file(cls, parsed: sweep_file.SweepFile, source: str) -> SweepSettings:
        """Settings as a sweep folder stored them (sweep.yaml, the table's metadata), with no flags over them."""
        return _build(parsed, source, {}, {}, stored=True)

    @property
    def dataset(self) -> str:
        """The dataset every trial trains on (the fixed one, or the config's default)."""
        return TrialConfig.from_dict({k: v for k, v in self.fixed.items() if k == "dataset"}).data.dataset


def make_settings(
    preset: str | None = "quick",
    overrides: Mapping[str, Any] | None = None,
    fixed_overrides: Mapping[str, Any] | None = None,
    config: str | Path | None = None,
    quick: bool = False,
) -> SweepSettings:
    """A preset's (or a sweep file's) settings with explicit flags (non-None values) and fixed config keys applied;
    `quick`: the file's `quick:` block over it first.

    `overrides` speaks the flags' vocabulary (beta_range, betas, latent_dims, seeds, archs, search, num_samples, ...).
    """
    if config is not None:
        parsed, source = sweep_file.load(config, quick), str(config)
    else:
        parsed, source = sweep_file.load(sweep_file.preset_path(preset or "quick"), quick), preset or "quick"
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    settings = _build(parsed, source, overrides, dict(fixed_overrides or {}))
    if quick:  # a quick run scores at the quick counts with the fast forest, whatever the file's full run uses
        settings = dataclasses.replace(settings, scores=QUICK_SCORES, dci_regressor=QUICK_DCI_REGRESSOR)
    return settings


QUICK_SCORES, QUICK_DCI_REGRESSOR = "quick", "random_forest"


# Settings a grid has no use for, and why: refused rather than silently dropped.
_NOT_FOR_A_GRID = {
    "beta_range": ("--beta-range", "its betas come from --betas"),
    "num_samples": ("--num-samples", "it trains every combination once per seed (repeat with --seeds)"),
    "seed": ("--seed", "it has no Optuna searcher to seed (trial seeds: --seeds)"),
}
# Flags that set a field of the same name.
_FIELD_FLAGS = ("name", "archs", "search", "num_samples", "scheduler", "metric", "mode", "metrics", "modes", "seed")


def _build(
    parsed: sweep_file.SweepFile,
    source: str,
    overrides: dict[str, Any],
    fixed_overrides: dict[str, Any],
    stored: bool = False,
) -> SweepSettings:
    """A file's values, then the flags over them, then the search space resolved; validated. `stored`: settings a
    sweep folder kept, whose dataset file is registered only when nothing registered its name yet (a resume compares
    the stored record with the file given now, rather than refusing while it reads it)."""
    values, labels = dict(parsed.values), dict(parsed.labels)
    explicit: dict[str, Parameter] = dict(values.pop("parameters", {}))
    from_file = set(values)
    explicit.update(_flag_parameters(overrides, labels))
    for key in _FIELD_FLAGS:
        if key in overrides:
            values[key], labels[key] = overrides[key], _flag_label(key, overrides[key])
    _default_modes(overrides, values)
    if "betas" in overrides and "search" not in overrides:
        values["search"], labels["search"] = "grid", labels["parameters.beta"]
    fixed = {**values.pop("fixed", {}), **fixed_overrides}
    if "dataset_file" in overrides:
        values["dataset_file"], labels["dataset_file"] = overrides["dataset_file"], "--dataset-file"
    elif "dataset" in fixed_overrides:  # --dataset names another dataset than the file's
        values.pop("dataset_file", None)
    for key in fixed_overrides:  # a flag fixes what the file searched
        explicit.pop(key, None)
        labels[f"fixed.{key}"] = "--" + key.replace("_", "-")
    values["name"] = values.get("name") or Path(source).stem
    search = values.get("search", "tpe")
    if search == "grid":
        if parsed.values.get("search") != "grid":  # a flag made a grid of the file's search: drop its search's own
            values = {k: v for k, v in values.items() if k not in _NOT_FOR_A_GRID or k in overrides}
            from_file -= set(_NOT_FOR_A_GRID)
        _refuse_for_a_grid(overrides, from_file, explicit, labels)
    elif "seed" in explicit:
        raise SettingsError(
            "--seeds makes a grid: give --betas too (for example --betas 1,4,16)"
            if "seeds" in overrides
            else f"{labels['parameters.seed']}: repeating each configuration per seed needs search: grid"
        )
    archs = values.get("archs", tuple(ARCHITECTURES))
    values["parameters"] = _resolve(search, archs, explicit, fixed, labels)
    settings = SweepSettings(preset=source, fixed=fixed, **values)
    if settings.dataset_file is not None and not (stored and settings.dataset_file.name in DATASETS):
        _register_dataset_file(settings.dataset_file, labels)
    validate(settings, labels)
    return settings


def _default_modes(overrides: dict[str, Any], values: dict[str, Any]) -> None:
    """--metric without --mode (--metrics without --modes): each metric ranked its own way (METRIC_MODES), not the
    file's goal, which was its own metric's; a metric of no known way: min."""
    if "metric" in overrides and "mode" not in overrides:
        values["mode"] = metric_mode(overrides["metric"]) or "min"
    if "metrics" in overrides and "modes" not in overrides:
        values["modes"] = tuple(metric_mode(metric) or "min" for metric in overrides["metrics"])


def _register_dataset_file(record: DatasetFile, labels: Mapping[str, str]) -> None:
    """The sweep's dataset file registered in this process (the driver validates and finishes trials with it)."""
    try:
        register_dataset_file(record)
    except DatasetFileError as error:
        raise SettingsError(f"{labels.get('dataset_file', 'fixed.dataset')}: {error}") from None


def _flag_parameters(overrides: dict[str, Any], labels: dict[str, str]) -> dict[str, Parameter]:
    """The parameters the flags give: --beta-range or --betas, --latent-dims, --seeds."""
    found: dict[str, Parameter] = {}
    if "beta_range" in overrides:
        low, high = overrides["beta_range"]
        labels["parameters.beta"] = f"--beta-range {low} {high}"
        if not 0 < low < high:
            raise SettingsError(f"--beta-range {low} {high}: needs 0 < LO < HI (beta is searched log-uniformly)")
        found["beta"] = Range(low, high, "log_uniform")
    for flag, key in (("betas", "beta"), ("latent_dims", "latent_dim"), ("seeds", "seed")):
        if flag in overrides:
            labels[f"parameters.{key}"] = _flag_label(flag, overrides[flag])
            if not overrides[flag]:
                raise SettingsError(f"--{flag.replace('_', '-')}: give one or more values")
            if not all(math.isfinite(value) for value in overrides[flag]):  # a NaN would become the default unseen
                raise SettingsError(f"{labels[f'parameters.{key}']}: every value must be a finite number")
            found[key] = Choice(tuple(overrides[flag]))
    return found


def _flag_label(key: str, value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return f"--{key.replace('_', '-')} {text}"


def _refuse_for_a_grid(
    overrides: dict[str, Any], from_file: set[str], explicit: dict[str, Parameter], labels: dict[str, str]
) -> None:
    """A grid with a setting it would ignore, or a range it cannot enumerate: refused, naming both."""
    grid_from = labels.get("search", "search: grid")
    for key, (flag, why) in _NOT_FOR_A_GRID.items():
        if key in overrides:
            raise SettingsError(f"{flag} conflicts with a grid ({grid_from}): a grid ignores it, as {why}")
        if key in from_file:
            raise SettingsError(f"{labels[key]}: a grid ({grid_from}) has no use for it, as {why}")
    for name, parameter in explicit.items():
        if isinstance(parameter, Range):
            where = labels[f"parameters.{name}"]
            raise SettingsError(f"{where}: a grid ({grid_from}) needs values: [...], not a range")


def _resolve(
    search: str, archs: tuple[str, ...], explicit: dict[str, Parameter], fixed: dict[str, Any], labels: dict[str, str]
) -> dict[str, Parameter]:
    """Every searched key: the explicit ones, then the defaults (a search's shared and registry ranges; a grid's
    latent sizes), leaving out the fixed keys. A grid needs its betas; its other keys take their config defaults."""
    if search == "grid":
        defaults: dict[str, Parameter | None] = {"latent_dim": SHARED_SEARCH["latent_dim"]}
        if "beta" not in explicit and "beta" not in fixed and any(takes_key(arch, "beta") for arch in archs):
            grid_from = labels.get("search", "search: grid")
            raise SettingsError(f"{grid_from}: a grid needs betas: --betas 1,4,16, or parameters.beta.values")
    else:
        defaults = dict(SHARED_SEARCH)
        defaults |= {
            key.name: from_registry(key.search)
            for arch in archs
            if arch in ARCHITECTURES
            for key in ARCHITECTURES[arch].keys
        }
    shared = [name for name in explicit if key_owner(name) is None and name not in SHARED_SEARCH]
    owned = [name for name in explicit if key_owner(name) is not None]
    order = dict.fromkeys([*SHARED_SEARCH, *shared, *defaults, *owned])
    resolved = {name: explicit.get(name, defaults.get(name)) for name in order if name not in fixed}
    return {name: parameter for name, parameter in resolved.items() if parameter is not None}


def validate(settings: SweepSettings, labels: Mapping[str, str] | None = None) -> None:
    """Check every setting before Ray starts; each error names its flag, or its file, line and key."""
    labels = labels or {}
    dataset = settings.fixed.get("dataset")
    if dataset is not None and dataset not in DATASETS:  # first: every other check would trip over it, unnamed
        try:
            TrialConfig.from_dict({"dataset": dataset})
        except ConfigError as error:  # unknown, or a file that cannot be read: the config's line says which
            label = labels.get("fixed.dataset", "fixed.dataset")
            label += f" {dataset}" if label.startswith("--") else ""  # a flag's label holds no value
            raise SettingsError(f"{label}: {error}") from None
    archs = labels.get("archs", f"--archs {','.join(settings.archs)}")
    unknown = [arch for arch in settings.archs if arch not in ARCHITECTURES]
    if not settings.archs or unknown:
        raise SettingsError(f"{archs}: unknown architecture; choose from {', '.join(ARCHITECTURES)}")
    if settings.search not in sweep_file.SEARCHES:
        raise SettingsError(f"--search {settings.search!r}: choose from {', '.join(sweep_file.SEARCHES)}")
    if settings.scheduler not in SCHEDULERS:
        raise SettingsError(f"--scheduler {settings.scheduler!r}: choose from {', '.join(SCHEDULERS)}")
    if settings.mode not in ("min", "max"):
        raise SettingsError(f"--mode {settings.mode!r}: choose min or max")
    if settings.scheduler == "asha" and settings.fixed.get("max_steps") is not None:
        raise SettingsError("--max-steps conflicts with --scheduler asha: ASHA's rungs count epochs (give --epochs)")
    name_problem = sweep_file.name_problem(settings.name)
    if name_problem:
        raise SettingsError(f"{labels.get('name', f'name {settings.name!r}')}: {name_problem}")
    if settings.num_samples < 1:
        raise SettingsError(f"{_where(labels, 'num_samples', settings.num_samples)}: must be >= 1")
    if not 0 <= settings.seed <= MAX_SEED:
        raise SettingsError(f"{_where(labels, 'seed', settings.seed)}: must be an integer from 0 to {MAX_SEED}")
    if settings.metrics:
        validate_objectives(settings)
    else:
        check_rankable(_where(labels, "metric", settings.metric), settings.metric, settings.dataset)
    _validate_fixed(settings, labels)  # first: a bad fixed value would fail every parameter's check under its name
    for name, parameter in settings.parameters.items():
        _validate_parameter(settings, name, parameter, labels.get(f"parameters.{name}", f"parameters.{name}"), archs)
    for key in settings.fixed:  # a fixed key the chosen architectures would all drop
        owner = key_owner(key)
        if owner is not None and owner not in settings.archs:
            where = labels.get(f"fixed.{key}", f"fixed.{key}")
            raise SettingsError(f"{where} applies only to arch={owner}, which {archs} leaves out")


# Optuna's samplers seed numpy, whose seeds are 32-bit unsigned integers.
MAX_SEED = 2**32 - 1


def _where(labels: Mapping[str, str], key: str, value: Any) -> str:
    """Where a value came from with the value: "--seed -1" (a flag's label holds its value) or "FILE:LINE: seed -1"."""
    label = labels.get(key)
    if label is not None and label.startswith("--"):
        return label
    return f"{label or '--' + key.replace('_', '-')} {value}"


def _validate_fixed(settings: SweepSettings, labels: Mapping[str, str]) -> None:
    """Every architecture must accept the fixed keys; a bad value is named by its own key's flag or line."""
    for arch in settings.archs:
        try:
            TrialConfig.from_dict({**fixed_for(settings, arch), "arch": arch})
        except ConfigError as error:
            named = re.match(r"(\w+)=", str(error))  # the config's messages start with "key=value"
            key = named.group(1) if named else None
            if key in settings.fixed:
                raise SettingsError(f"{labels.get(f'fixed.{key}', f'fixed.{key}')}: {error}") from None
            raise SettingsError(f"the sweep's fixed config does not fit arch={arch!r}: {error}") from None


def _validate_parameter(settings: SweepSettings, name: str, parameter: Parameter, where: str, archs: str) -> None:
    """A parameter's every value (a range's ends) must make a valid config for the architectures that take it."""
    owner = key_owner(name)
    if owner is not None and owner not in settings.archs:
        raise SettingsError(f"{where} applies only to arch={owner}, which {archs} leaves out")
    if isinstance(parameter, Range) and parameter.problem():
        raise SettingsError(f"{where}: {parameter.problem()}")
    values = parameter.values if isinstance(parameter, Choice) else (parameter.low, parameter.high)
    takers = [arch for arch in settings.archs if takes_key(arch, name)]
    if not takers:
        raise SettingsError(f"{where}: none of the swept architectures ({archs}) takes {name}")
    for arch in takers:
        for value in values:
            try:
                TrialConfig.from_dict({**fixed_for(settings, arch), "arch": arch, name: value})
            except ConfigError as error:
                raise SettingsError(f"{where}: {error}") from None


def _from_old_json(stored: dict[str, Any]) -> SweepSettings:
    """sweep.json of the versions before sweep files (beta_range, betas, latent_dims, seeds, lr_range)."""
    grid = bool(stored.get("betas"))
    explicit: dict[str, Parameter] = {"latent_dim": Choice(tuple(stored.get("latent_dims", (2, 4, 8, 16, 32))))}
    if grid:
        explicit["beta"] = Choice(tuple(stored["betas"]))
        if stored.get("seeds"):
            explicit["seed"] = Choice(tuple(stored["seeds"]))
    else:
        explicit["beta"] = Range(*stored["beta_range"], "log_uniform")
        explicit["lr"] = Range(*stored.get("lr_range", (1e-4, 3e-3)), "log_uniform")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items() if k in _FIELD_FLAGS}
    if grid:  # stored with their defaults, which a grid never used
        values = {k: v for k, v in values.items() if k not in ("num_samples", "seed")}
    values |= {"search": "grid" if grid else "tpe", "parameters": explicit, "fixed": stored.get("fixed", {})}
    parsed = sweep_file.SweepFile(values=values)
    return _build(parsed, stored.get("preset", ""), {}, {})


def fixed_for(settings: SweepSettings, arch: str) -> dict[str, Any]:
    """The fixed config keys that apply to one architecture."""
    return {k: v for k, v in settings.fixed.items() if takes_key(arch, k)}


def shared_fixed(settings: SweepSettings) -> dict[str, Any]:
    """The fixed config keys that apply to every swept architecture."""
    return {k: v for k, v in settings.fixed.items() if all(takes_key(arch, k) for arch in settings.archs)}
