"""TrialConfig: the one validated description of a trial, converted from flat dicts once."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from vaemodels.datasets import DATASETS

# 2: every checkpoint carries summary.json (its trial's row so far); 1: results made before it.
SCHEMA_VERSION = 2

ARCHS = ("vae", "conditional", "branched")  # the registry checks it holds exactly these
NETS = ("conv", "original")
RECONS = ("bernoulli", "gaussian")
CLASSIFIER_ON = ("features", "z")
PRECISIONS = ("fp32", "bf16")

# Keys that exist for one architecture only, with their defaults.
ARCH_KEYS: dict[str, dict[str, Any]] = {
    "vae": {},
    "conditional": {"decoder_conditioning": True},
    "branched": {"classifier_weight": 1.0, "classifier_on": "features"},
}


class ConfigError(ValueError):
    """A config key is unknown, missing or has an impossible value."""


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "vae"
    net: str = "conv"
    latent_dim: int = 8
    beta: float = 1.0
    recon: str = "bernoulli"
    decoder_conditioning: bool | None = None  # conditional only
    classifier_weight: float | None = None  # branched only
    classifier_on: str | None = None  # branched only


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    plateau_stop: bool = False
    # fp32 by default: bf16 autocast measured 0.67-0.80x the fp32 throughput of these small VAEs on an H200
    # (benchmarks/gpu_check.py); "bf16" turns it on for CUDA, and CPU always trains in fp32.
    precision: str = "fp32"


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist_5k"
    image_size: int = 28
    data_dir: str | None = None
    n_samples: int | None = None  # None: the dataset's default (all, or 20,000 for shapes)
    embed_samples: int = 10_000  # 0: every validation sample


_SECTIONS = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}
_KEY_SECTION = {f.name: name for name, cls in _SECTIONS.items() for f in dataclasses.fields(cls)}
CONFIG_KEYS: tuple[str, ...] = (*_KEY_SECTION, "seed")


@dataclass(frozen=True)
class TrialConfig:
    """Everything that defines one trial; `from_dict`/`to_dict` speak the flat keys of CONTRACT.md."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 0

    @classmethod
    def from_dict(cls, flat: dict[str, Any]) -> TrialConfig:
        """Validate a flat dict (CLI, Tune, config.json) into a TrialConfig."""
        flat = {k: v for k, v in flat.items() if k != "schema_version" and not _is_missing(v)}
        unknown = sorted(set(flat) - set(CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r}; known keys: {', '.join(CONFIG_KEYS)}")
        arch = flat.get("arch", ModelConfig.arch)
        if arch not in ARCH_KEYS:
            raise ConfigError(f"arch={arch!r} is not a registered architecture; choose from {', '.join(ARCHS)}")
        for other_arch, keys in ARCH_KEYS.items():
            for key in keys:
                if key in flat and key not in ARCH_KEYS[arch]:
                    raise ConfigError(f"{key!r} applies only to arch={other_arch!r}, not arch={arch!r}")
        flat = {**ARCH_KEYS[arch], **flat}
        dataset = flat.get("dataset", DataConfig.dataset)
        if dataset not in DATASETS:
            raise ConfigError(f"dataset={dataset!r} is unknown; choose from {', '.join(DATASETS)}")
        flat.setdefault("image_size", DATASETS[dataset].default_image_size)
        sections = {
            name: section_cls(**{k: _coerce(section_cls, k, v) for k, v in flat.items() if _KEY_SECTION.get(k) == name})
            for name, section_cls in _SECTIONS.items()
        }
        config = cls(**sections, seed=_coerce_int("seed", flat.get("seed", 0)))
        config._validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The flat keys, without the ones that do not apply to this architecture."""
        flat: dict[str, Any] = {}
        for section in (self.model, self.train, self.data):
            flat.update(dataclasses.asdict(section))
        flat["seed"] = self.seed
        for keys in ARCH_KEYS.values():
            for key in keys:
                if key not in ARCH_KEYS[self.model.arch]:
                    flat.pop(key)
        return flat

    def replace(self, **changes: Any) -> TrialConfig:
        """A copy with some flat keys changed, validated again."""
        return TrialConfig.from_dict({**self.to_dict(), **changes})

    @property
    def num_classes(self) -> int:
        return DATASETS[self.data.dataset].num_classes

    @property
    def channels(self) -> int:
        return DATASETS[self.data.dataset].channels

    def _validate(self) -> None:
        m, t, d = self.model, self.train, self.data
        _check(m.net in NETS, "net", m.net, f"one of {', '.join(NETS)}")
        _check(m.latent_dim >= 1, "latent_dim", m.latent_dim, "an integer >= 1")
        _check(m.beta >= 0 and math.isfinite(m.beta), "beta", m.beta, "a finite float >= 0")
        _check(m.recon in RECONS, "recon", m.recon, f"one of {', '.join(RECONS)}")
        if m.arch == "branched":
            _check(m.classifier_weight > 0, "classifier_weight", m.classifier_weight, "a float > 0")
            _check(m.classifier_on in CLASSIFIER_ON, "classifier_on", m.classifier_on, " or ".join(CLASSIFIER_ON))
        _check(t.lr > 0 and math.isfinite(t.lr), "lr", t.lr, "a float > 0")
        _check(t.batch_size >= 1, "batch_size", t.batch_size, "an integer >= 1")
        _check(t.epochs >= 1, "epochs", t.epochs, "an integer >= 1")
        _check(t.precision in PRECISIONS, "precision", t.precision, " or ".join(PRECISIONS))
        sizes = DATASETS[d.dataset].image_sizes
        _check(d.image_size in sizes, "image_size", d.image_size, f"one of {sizes} for dataset={d.dataset!r}")
        if m.net == "original":
            _check(
                d.image_size == 28, "image_size", d.image_size, "28 with net='original' (the original 28x28 network)"
            )
        _check(d.n_samples is None or d.n_samples >= 10, "n_samples", d.n_samples, "an integer >= 10")
        _check(d.embed_samples >= 0, "embed_samples", d.embed_samples, "an integer >= 0 (0 = all)")


def _is_missing(value: Any) -> bool:
    """None and NaN (a missing cell in trials.parquet) both mean 'not set'."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: expected {expected}")


def _coerce_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ConfigError(f"{key}={value!r} is invalid: expected an integer")
    return int(value)


def _coerce(section_cls: type, key: str, value: Any) -> Any:
    """Turn JSON/Parquet/CLI scalars into the field's type, naming the key on failure."""
    kind = {f.name: f.type for f in dataclasses.fields(section_cls)}[key]
    try:
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if kind.startswith("int"):
            return _coerce_int(key, value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{key}={value!r} is invalid: expected {kind}") from error
