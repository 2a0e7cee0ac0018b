"""vaemodels: VAE architectures, datasets, the plain training loop, checkpoints and latent embeddings."""

from vaemodels.config import ConfigError, TrialConfig
from vaemodels.losses import LossTerms, vae_loss
from vaemodels.models import VAEOutput
from vaemodels.registry import count_parameters, create_model, list_models

__all__ = [
    "ConfigError",
    "LossTerms",
    "TrialConfig",
    "VAEOutput",
    "count_parameters",
    "create_model",
    "list_models",
    "vae_loss",
]
