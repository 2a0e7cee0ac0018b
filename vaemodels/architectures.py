"""The architecture registry: one entry per architecture, carrying everything the rest of the code asks about it.

Config validation, the search space, the presets, the trainer, trials.parquet and the explorer read these
entries; nothing else names an architecture's own keys. A plugin adds an entry through the
`latentsweep.architectures` entry-point group (vaemodels/plugins.py). This module imports no torch: the model
class is named as "module:Class" and imported when a model is built, so `latentsweep --help` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaemodels import plugins

if TYPE_CHECKING:
    from vaemodels.models import VAE


@dataclass(frozen=True)
class LogRange:
    """A log-uniform search range for a float key."""

    low: float
    high: float


@dataclass(frozen=True)
class ArchKey:
    """One config key that exists for one architecture only."""

    name: str
    kind: type  # bool, int, float or str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()  # the allowed values; empty: any value of `kind` (and > 0 with `positive`)
    positive: bool = False  # the value must be finite and > 0
    below: float | None = None  # the value must be smaller than this
    # What a sweep searches when neither the key is fixed nor a sweep file gives its own range (sweeps/parameters.py).
    search: LogRange | tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ArchSpec:
    """An architecture: its model class and all that the config, the sweep, the trainer and the explorer need."""

    name: str
    model: str | type  # "module:Class" of a vaemodels.models.VAE subclass (imported on first use), or the class
    summary: str
    keys: tuple[ArchKey, ...] = ()
    plateau_monitor: str = "loss"  # the metric the original's plateau rule watches (train.plateau_stop)
    loss_terms: tuple[str, ...] = ()  # terms beyond recon, kl and total; each is logged as train_<term>, val_<term>
    # Shared keys this architecture does not take, each with why: giving one is an error, and its column stays empty.
    excluded_keys: Mapping[str, str] = field(default_factory=dict)
    # Optimiser steps one training iteration takes (FactorVAE: the VAE's and the discriminator's). What a budget of
    # max_steps means under `max_steps_counts: optimizer_steps`, disentanglement_lib's global_step.
    optimizer_steps_per_update: int = 1

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @property
    def defaults(self) -> dict[str, Any]:
        return {key.name: key.default for key in self.keys}

    def model_class(self) -> type[VAE]:
        """The model class, imported now if it was named as a string."""
        if isinstance(self.model, str):
            module, _, name = self.model.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.model


class RegistryError(ValueError):
    """An architecture entry clashes with one already registered."""


ARCHITECTURES: dict[str, ArchSpec] = {}


def register_architecture(spec: ArchSpec, shared_keys: Collection[str] = ()) -> ArchSpec:
    """Add an entry; its name and each of its keys must be new (trials.parquet has one column per key)."""
    if spec.name in ARCHITECTURES:
        raise RegistryError(f"architecture {spec.name!r} is already registered")
    owners = {key: other.name for other in ARCHITECTURES.values() for key in other.key_names}
    owners.update(dict.fromkeys(shared_keys, "every architecture"))
    for key in spec.key_names:
        if key in owners:
            raise RegistryError(f"architecture {spec.name!r}: key {key!r} already belongs to {owners[key]!r}")
    ARCHITECTURES[spec.name] = spec
    return spec


def architecture(name: str) -> ArchSpec:
    """The entry of a registered architecture (KeyError for an unknown name; config validation names it first)."""
    return ARCHITECTURES[name]


def key_owner(key: str) -> str | None:
    """The architecture that owns an architecture-only key, or None for a key every architecture shares."""
    return next((spec.name for spec in ARCHITECTURES.values() if key in spec.key_names), None)


def takes_key(arch: str, key: str) -> bool:
    """Whether an architecture takes a flat key: a shared one it does not exclude, or one of its own."""
    owner = key_owner(key)
    return owner == arch if owner is not None else key not in ARCHITECTURES[arch].excluded_keys


def arch_keys() -> list[ArchKey]:
    """Every architecture-only key, in registry order."""
    return [key for spec in ARCHITECTURES.values() for key in spec.keys]


def loss_terms() -> tuple[str, ...]:
    """Every loss term any architecture reports: the shared ones, then each entry's own."""
    extra = dict.fromkeys(term for spec in ARCHITECTURES.values() for term in spec.loss_terms)
    return ("total", "recon", "kl", *extra)


def list_models() -> list[str]:
    """Names of every registered architecture."""
    return list(ARCHITECTURES)


register_architecture(
    ArchSpec(
        "vae",
        "vaemodels.models:VAE",
        "beta-VAE (Higgins et al. 2017): a Gaussian encoder and decoder, a beta-weighted KL",
    )
)
register_architecture(
    ArchSpec(
        "conditional",
        "vaemodels.models:ConditionalVAE",
        "conditional VAE (Sohn et al. 2015): the label tiled onto the encoder input and, by default, the decoder's",
        keys=(
            ArchKey(
                "decoder_conditioning",
                bool,
                True,
                "feed the label to the decoder too (the original did not: q(z|x,c) but p(x|z))",
                search=(True, False),
            ),
        ),
        plateau_monitor="val_kl",  # the original's plateau rule watched the KL of its conditional VAE
    )
)
register_architecture(
    ArchSpec(
        "branched",
        "vaemodels.models:BranchedVAE",
        "VAE with a classifier branch on the conv features (the original) or on z",
        keys=(
            ArchKey(
                "classifier_weight",
                float,
                1.0,
                "weight of the classifier's cross-entropy in the loss",
                positive=True,
                search=LogRange(0.1, 10.0),
            ),
            ArchKey(
                "classifier_on",
                str,
                "features",
                "what the classifier branch reads: the conv features (the original) or z",
                choices=("features", "z"),
                search=("features", "z"),
            ),
        ),
        plateau_monitor="val_classifier",  # the original watched the classifier loss of its branched VAE
        loss_terms=("classifier", "accuracy"),
    )
)

# The disentanglement methods Locatello et al. 2019 compare (their code: vaemodels/methods/), with the keys, defaults
# and search ranges of disentanglement_lib's unsupervised_study_v1 (config/unsupervised_study_v1/sweep.py).
register_architecture(
    ArchSpec(
        "beta_tcvae",
        "vaemodels.methods.beta_tcvae:BetaTCVAE",
        "beta-TCVAE (Chen et al. 2018): the KL split into index-code MI, total correlation and dimension-wise KL, "
        "the TC weighted",
        keys=(
            ArchKey(
                "tc_weight",
                float,
                6.0,
                "weight of the total correlation term (beta in Chen et al.)",
                positive=True,
                search=LogRange(1.0, 10.0),
            ),
            ArchKey(
                "tc_estimator",
                str,
                "stratified",
                "mws: minibatch-weighted sampling and the objective KL + (tc_weight - 1) TC, as disentanglement_lib; "
                "stratified: a sample's own posterior weighted 1/N, the others (N-1)/(N(B-1)), and "
                "MI + tc_weight TC + dimension-wise KL",
                choices=("stratified", "mws"),
            ),
        ),
        loss_terms=("mi", "tc", "dwkl"),
        excluded_keys={"beta": "its KL terms are weighted by tc_weight (MI and dimension-wise KL by 1)"},
    )
)
register_architecture(
    ArchSpec(
        "factor_vae",
        "vaemodels.methods.factor_vae:FactorVAE",
        "FactorVAE (Kim & Mnih 2018): the ELBO plus tc_gamma x a discriminator's density-ratio estimate of the TC",
        keys=(
            ArchKey(
                "tc_gamma",
                float,
                30.0,
                "weight of the discriminator's total-correlation estimate (gamma)",
                positive=True,
                search=LogRange(10.0, 100.0),
            ),
            ArchKey("disc_lr", float, 1e-4, "the discriminator's Adam learning rate (betas 0.5, 0.9)", positive=True),
            ArchKey(
                "disc_clip",
                float,
                None,
                "clip the discriminator's probabilities to [c, 1 - c] before its log-loss, as disentanglement_lib "
                "(1e-6); unset: cross-entropy on the logits, unclipped",
                positive=True,
                below=0.5,
            ),
        ),
        loss_terms=("tc", "disc_loss", "disc_accuracy"),
        excluded_keys={"beta": "its KL weight is 1, and tc_gamma weights the total correlation"},
        optimizer_steps_per_update=2,
    )
)
register_architecture(
    ArchSpec(
        "dip_vae",
        "vaemodels.methods.dip_vae:DIPVAE",
        "DIP-VAE-I/II (Kumar et al. 2018): the ELBO plus penalties pushing the covariance of the codes to the identity",
        keys=(
            ArchKey(
                "dip_type",
                str,
                "i",
                "i: penalise Cov[mu(x)]; ii: Cov[z] = E[Sigma(x)] + Cov[mu(x)]",
                choices=("i", "ii"),
                search=("i", "ii"),
            ),
            ArchKey(
                "lambda_od",
                float,
                10.0,
                "weight of the off-diagonal covariance penalty",
                positive=True,
                search=LogRange(1.0, 50.0),
            ),
            ArchKey(
                "lambda_d",
                float,
                None,
                "weight of the diagonal penalty; unset: 10 x lambda_od for dip_type i, "
                "lambda_od for ii (disentanglement_lib's lambda_d_factor)",
                positive=True,
            ),
        ),
        loss_terms=("dip_offdiag", "dip_diag"),
        excluded_keys={"beta": "its KL weight is 1, and lambda_od and lambda_d weight its covariance penalties"},
    )
)
register_architecture(
    ArchSpec(
        "annealed_vae",
        "vaemodels.methods.annealed_vae:AnnealedVAE",
        "AnnealedVAE (Burgess et al. 2018): capacity_gamma x |KL - C|, the capacity C rising linearly to capacity_max",
        keys=(
            ArchKey("capacity_gamma", float, 1000.0, "weight of |KL - C| (gamma)", positive=True),
            ArchKey(
                "capacity_max",
                float,
                25.0,
                "the capacity C reached at the end of the schedule, in nats",
                positive=True,
                search=LogRange(5.0, 100.0),
            ),
            ArchKey(
                "capacity_steps",
                int,
                100_000,
                "optimiser steps over which C rises from 0 to capacity_max",
                positive=True,
            ),
        ),
        loss_terms=("capacity",),
        excluded_keys={"beta": "its KL is pulled to the capacity C by capacity_gamma, not weighted by beta"},
    )
)


_plugins_loaded = False


def load_plugins(shared_keys: Collection[str]) -> None:
    """Register the entries of installed plugins, once; vaemodels.config calls it when it is first imported.

    Not at this module's import: a plugin's module imports vaemodels.config (for TrialConfig), which must be whole
    by then. One that clashes or fails is skipped with a warning, never breaking the rest.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    import warnings

    for spec in plugins.load_objects(plugins.ARCHITECTURES_GROUP):
        try:
            register_architecture(spec, shared_keys)
        except (RegistryError, AttributeError) as error:
            warnings.warn(f"architecture plugin {spec!r} is not registered: {error}", stacklevel=2)
