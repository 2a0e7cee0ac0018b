"""The architecture registry: the one list of models that the CLI, sweeps, loader and explorer read."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vaemodels.config import ARCHS, TrialConfig
from vaemodels.models import VAE, BranchedVAE, ConditionalVAE

MODELS: dict[str, Callable[[TrialConfig], VAE]] = {
    "vae": VAE,
    "conditional": ConditionalVAE,
    "branched": BranchedVAE,
}
assert tuple(MODELS) == ARCHS, "config.ARCHS and the registry must name the same architectures"


def list_models() -> list[str]:
    """Names of every registered architecture."""
    return list(MODELS)


def create_model(config: TrialConfig | dict) -> VAE:
    """Build the model a config describes (a flat dict is validated first)."""
    if not isinstance(config, TrialConfig):
        config = TrialConfig.from_dict(config)
    return MODELS[config.model.arch](config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
