"""TrialConfig: the one validated description of a trial, converted from flat dicts once."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from vaemodels.architectures import ARCHITECTURES, arch_keys, key_owner, load_plugins
from vaemodels.dataset_registry import DATASETS, UNAVAILABLE, unknown_dataset
from vaemodels.dataset_registry import load_plugins as load_dataset_plugins
from vaemodels.errors import ConfigError

# 3: configs carry data_seed; 2: every checkpoint carries summary.json (its trial's row so far); 1: before both.
SCHEMA_VERSION = 3
DATA_SEED_SCHEMA = 3  # a config of an older schema without data_seed drew its data from `seed`

NETS = ("conv", "original", "disentanglement_lib")
RECONS = ("bernoulli", "gaussian")
PRECISIONS = ("fp32", "bf16")
# A bound far above any real training (epochs of even the smallest dataset take seconds), low enough that the
# epoch counters, ASHA's max_t and the history stay ordinary integers.
MAX_EPOCHS = 100_000
INITS = ("torch", "reference")
SAMPLINGS = ("epochs", "iid")
STEP_COUNTS = ("updates", "optimizer_steps")
# `--help` text of the shared keys (an architecture's own keys carry theirs); the command line adds each default
# (key_default) unless the text says it. "{datasets}" becomes the registered datasets' names.
KEY_HELP = {
    "arch": "architecture, from the registry (`latentsweep models` lists them)",
    "net": "network body: conv (its depth adapts to the image size), original (the original project's 28x28 "
    "network), disentanglement_lib (its 64x64 network)",
    "latent_dim": "size of z",
    "beta": "weight of the KL term",
    "recon": "reconstruction likelihood: bernoulli (BCE with logits, summed over pixels) or gaussian (the "
    "original's 1000 x pixel-mean MSE)",
    "init": "torch (default): PyTorch's initialisation; reference: glorot-uniform kernels, zero biases (TF1, Keras)",
    "lr": "Adam's learning rate",
    "batch_size": "images a training batch",
    "epochs": "passes over the training split (ASHA's rungs count them)",
    "max_steps": "a budget of training steps instead of epochs (default: none, epochs rule)",
    "max_steps_counts": "what max_steps counts: updates (default), or optimizer_steps as disentanglement_lib "
    "(FactorVAE: 2 an update)",
    "sampling": "epochs (default): shuffled passes over the training split; iid: batches drawn uniformly with "
    "replacement from every row",
    "plateau_stop": "the original's plateau rule: cut the learning rate when the loss stops moving, stop after 10 cuts",
    "precision": "fp32, or bf16 autocast (CUDA only; CPU trains in fp32)",
    "dataset": "what every trial trains on: {datasets}",
    "image_size": "image side in pixels (default: the dataset's, e.g. 64 for shapes)",
    "data_dir": "folder of a dataset read from files: mnist, fashion_mnist, dsprites (default: none)",
    "n_samples": "samples of the dataset used (default: all of it; 20,000 for shapes)",
    "embed_samples": "validation samples encoded into latents.parquet (0: all)",
    "data_seed": "seed of the data: shapes' images, the subset, the train/validation split, the embedded samples",
    "seed": "seed of the weights' initialisation and the batch order",
}

__all__ = [
    "CONFIG_KEYS",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "TrialConfig",
    "is_missing",
    "key_default",
    "key_kind",
]


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "vae"
    net: str = "conv"
    latent_dim: int = 8
    beta: float = 1.0
    recon: str = "bernoulli"
    # torch: PyTorch's default initialisation; reference: glorot-uniform kernels and zero biases, as TF1's tf.layers
    # (disentanglement_lib) and Keras made them. net=original is the Keras port: glorot whatever this says.
    init: str = "torch"
    # The architecture's own keys (vaemodels/architectures.py), validated; read as attributes:
    # `config.model.classifier_weight`.
    options: tuple[tuple[str, Any], ...] = ()

    def __getattr__(self, name: str) -> Any:
        # Called only for names that are not fields: an architecture's own key, or a mistake.
        if not name.startswith("__"):
            for key, value in self.__dict__.get("options", ()):
                if key == name:
                    return value
        raise AttributeError(f"{type(self).__name__} of arch={self.__dict__.get('arch')!r} has no key {name!r}")


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    max_steps: int | None = None  # a budget of steps instead of epochs (disentanglement_lib's training_steps)
    # What max_steps counts. updates: training iterations (the model's updates). optimizer_steps: every optimiser's
    # step, as disentanglement_lib's global_step, which both of FactorVAE's optimisers advance: 300,000 of them are
    # 150,000 updates. `steps` in every table and curve counts updates either way.
    max_steps_counts: str = "updates"
    # epochs: shuffled passes over the training split. iid: each batch drawn uniformly with replacement from every
    # row (disentanglement_lib's infinite dataset); an "epoch" is then a report every rows // batch_size batches.
    sampling: str = "epochs"
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
    # Draws the data (shapes' images, the n_samples subset, the split, the embedded subset); `seed` draws the
    # initialisation and the batch order. Trials that differ only in `seed` encode the same samples.
    data_seed: int = 0


_SECTIONS = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}
# Base key -> its section and its kind ("bool", "int", "float" or "str"), from the dataclass annotations.
_BASE_FIELDS = [(name, f) for name, cls in _SECTIONS.items() for f in dataclasses.fields(cls) if f.name != "options"]
_KEY_SECTION = {f.name: name for name, f in _BASE_FIELDS}
_KINDS = {f.name: str(f.type).split(" ")[0] for _, f in _BASE_FIELDS}  # "int | None" -> "int"
_KINDS["seed"] = "int"
_DEFAULTS = {f.name: f.default for _, f in _BASE_FIELDS}
_MODEL_KEYS = [name for name, section in _KEY_SECTION.items() if section == "model"]


def _config_keys() -> tuple[str, ...]:
    """Every flat key, in order: the shared model keys, each architecture's own, training, data, seed."""
    _KINDS.update({key.name: key.kind.__name__ for key in arch_keys()})
    rest = (name for name in _KEY_SECTION if name not in _MODEL_KEYS)
    return (*_MODEL_KEYS, *(key.name for key in arch_keys()), *rest, "seed")


CONFIG_KEYS = _config_keys()  # the built-in architectures' keys; again with the plugins' at the end of this module


def key_default(key: str) -> Any:
    """A shared key's default value (None for an architecture's own key, or a key whose default depends)."""
    return 0 if key == "seed" else _DEFAULTS.get(key)


def key_kind(key: str) -> str:
    """A flat key's kind: "bool", "int", "float" or "str"."""
    return _KINDS[key]


@dataclass(frozen=True)
class TrialConfig:
    """Everything that defines one trial; `from_dict`/`to_dict` speak the flat config keys."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = 0

    @classmethod
    def from_dict(cls, flat: dict[str, Any]) -> TrialConfig:
        """Validate a flat dict (CLI, Tune, config.json) into a TrialConfig."""
        schema = flat.get("schema_version")
        flat = {k: v for k, v in flat.items() if k != "schema_version" and not is_missing(v)}
        if schema is not None and int(schema) < DATA_SEED_SCHEMA and "data_seed" not in flat:
            flat["data_seed"] = flat.get("seed", 0)  # results made before data_seed load unchanged
        unknown = sorted(set(flat) - set(CONFIG_KEYS))
        if unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r}; known keys: {', '.join(CONFIG_KEYS)}")
        arch = flat.get("arch", ModelConfig.arch)
        if arch not in ARCHITECTURES:
            raise ConfigError(f"arch={arch!r} is not a registered architecture; choose from {', '.join(ARCHITECTURES)}")
        spec = ARCHITECTURES[arch]
        for key in flat:
            owner = key_owner(key)
            if owner is not None and owner != arch:
                raise ConfigError(f"{key!r} applies only to arch={owner!r}, not arch={arch!r}")
            if key in spec.excluded_keys:
                raise ConfigError(f"{key!r} does not apply to arch={arch!r}: {spec.excluded_keys[key]}")
        flat = {**spec.defaults, **flat}
        dataset = flat.get("dataset", DataConfig.dataset)
        if dataset in UNAVAILABLE and dataset not in DATASETS:
            raise ConfigError(f"dataset={dataset!r} is unavailable: {UNAVAILABLE[dataset]}")
        if dataset not in DATASETS:
            raise ConfigError(unknown_dataset(dataset))
        flat.setdefault("image_size", DATASETS[dataset].default_image_size)
        sections = {
            name: {k: _coerce(k, v) for k, v in flat.items() if _KEY_SECTION.get(k) == name} for name in _SECTIONS
        }
        sections["model"]["options"] = tuple(
            (key, None if flat[key] is None else _coerce(key, flat[key])) for key in spec.key_names
        )  # None: an optional key left unset (its help says what that means)
        config = cls(
            **{name: _SECTIONS[name](**values) for name, values in sections.items()},
            seed=_coerce_int("seed", flat.get("seed", 0)),
        )
        config._validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        """The flat keys, in CONFIG_KEYS order, with only this architecture's own keys."""
        flat: dict[str, Any] = {}
        for section in (self.model, self.train, self.data):
            flat.update(dataclasses.asdict(section))
        flat.update(flat.pop("options"))
        flat["seed"] = self.seed
        excluded = ARCHITECTURES[self.model.arch].excluded_keys
        return {key: flat[key] for key in CONFIG_KEYS if key in flat and key not in excluded}

    def replace(self, **changes: Any) -> TrialConfig:
        """A copy with some flat keys changed, validated again."""
        return TrialConfig.from_dict({**self.to_dict(), **changes})

    @property
    def num_classes(self) -> int:
        return DATASETS[self.data.dataset].num_classes

    @property
    def channels(self) -> int:
        return DATASETS[self.data.dataset].channels

    @property
    def update_budget(self) -> int | None:
        """The training iterations max_steps allows (None: an epoch budget); see TrainConfig.max_steps_counts."""
        return planned_updates(self.train.max_steps, self.model.arch, self.train.max_steps_counts)

    def _validate(self) -> None:
        m, t, d = self.model, self.train, self.data
        _check(m.net in NETS, "net", m.net, f"one of {', '.join(NETS)}")
        _check(m.latent_dim >= 1, "latent_dim", m.latent_dim, "an integer >= 1")
        _check(m.beta >= 0 and math.isfinite(m.beta), "beta", m.beta, "a finite float >= 0")
        _check(m.recon in RECONS, "recon", m.recon, f"one of {', '.join(RECONS)}")
        _check(m.init in INITS, "init", m.init, f"one of {', '.join(INITS)}")
        for key in ARCHITECTURES[m.arch].keys:
            value = getattr(m, key.name)
            if key.choices:
                _check(value in key.choices, key.name, value, f"one of {', '.join(map(str, key.choices))}")
            if key.positive and value is not None:
                _check(value > 0 and math.isfinite(value), key.name, value, f"a finite {key.kind.__name__} > 0")
            if key.below is not None and value is not None:
                _check(value < key.below, key.name, value, f"a value below {key.below}")
        _check(t.lr > 0 and math.isfinite(t.lr), "lr", t.lr, "a float > 0")
        _check(t.batch_size >= 1, "batch_size", t.batch_size, "an integer >= 1")
        _check(1 <= t.epochs <= MAX_EPOCHS, "epochs", t.epochs, f"an integer from 1 to {MAX_EPOCHS}")
        _check(t.max_steps is None or t.max_steps >= 1, "max_steps", t.max_steps, "an integer >= 1")
        _check(t.precision in PRECISIONS, "precision", t.precision, " or ".join(PRECISIONS))
        _check(t.sampling in SAMPLINGS, "sampling", t.sampling, " or ".join(SAMPLINGS))
        _check(t.max_steps_counts in STEP_COUNTS, "max_steps_counts", t.max_steps_counts, " or ".join(STEP_COUNTS))
        sizes = DATASETS[d.dataset].image_sizes
        _check(d.image_size in sizes, "image_size", d.image_size, f"one of {sizes} for dataset={d.dataset!r}")
        if m.net == "original":
            _check(
                d.image_size == 28, "image_size", d.image_size, "28 with net='original' (the original 28x28 network)"
            )
        if m.net == "disentanglement_lib":
            _check(d.image_size == 64, "image_size", d.image_size, "64 with net='disentanglement_lib' (its 64x64 net)")
        _check(d.n_samples is None or d.n_samples >= 10, "n_samples", d.n_samples, "an integer >= 10")
        _check(d.embed_samples >= 0, "embed_samples", d.embed_samples, "an integer >= 0 (0 = all)")
        _check(d.data_seed >= 0, "data_seed", d.data_seed, "an integer >= 0")


def planned_updates(max_steps: Any, arch: Any, counts: Any) -> int | None:
    """The training iterations a budget of max_steps allows an architecture (None without a budget): max_steps
    itself, or with counts="optimizer_steps" max_steps over the optimiser steps one iteration takes. Takes a
    table row's cells too (missing ones are None or NaN)."""
    if is_missing(max_steps):
        return None
    per_update = ARCHITECTURES[arch].optimizer_steps_per_update if arch in ARCHITECTURES else 1
    return int(max_steps) // per_update if counts == "optimizer_steps" else int(max_steps)


def is_missing(value: Any) -> bool:
    """None and NaN (a missing cell in trials.parquet) both mean 'not set'; what reads a table row asks this."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: expected {expected}")


def _coerce_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ConfigError(f"{key}={value!r} is invalid: expected an integer")
    return int(value)


def _coerce(key: str, value: Any) -> Any:
    """Turn JSON/Parquet/CLI scalars into the key's kind, naming the key on failure."""
    kind = _KINDS[key]
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if kind == "int":
            return _coerce_int(key, value)
        if kind == "float":
            return float(value)
        return str(value)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{key}={value!r} is invalid: expected {kind}") from error


# Here, once TrialConfig exists: a plugin's module may import it.
load_plugins(shared_keys=(*_KEY_SECTION, "seed"))
load_dataset_plugins()
CONFIG_KEYS = _config_keys()
