"""vaemodels: VAE architectures, datasets, the plain training loop, checkpoints and latent embeddings."""

from vaemodels.checkpoint import LoadedTrial, load_trial, load_trials
from vaemodels.config import ConfigError, TrialConfig
from vaemodels.datasets import Dataset, DatasetUnavailable, load_dataset
from vaemodels.embeddings import encode
from vaemodels.losses import LossTerms, vae_loss
from vaemodels.models import VAEOutput
from vaemodels.registry import count_parameters, create_model, list_models
from vaemodels.training import TrainingDiverged, fit

__all__ = [
    "ConfigError",
    "Dataset",
    "DatasetUnavailable",
    "LoadedTrial",
    "LossTerms",
    "TrainingDiverged",
    "TrialConfig",
    "VAEOutput",
    "count_parameters",
    "create_model",
    "encode",
    "fit",
    "list_models",
    "load_dataset",
    "load_trial",
    "load_trials",
    "vae_loss",
]
