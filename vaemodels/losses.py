"""The loss terms every architecture shares, and the named structure every loss returns.

Each architecture's model computes its own loss (`VAE.loss`, overridden per method); all return `LossTerms`, whose
names flow to Tune, Parquet and the explorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

GAUSSIAN_SCALE = 1000.0  # the original's reconstruction: 1000 x mean squared error over pixels


@dataclass(frozen=True)
class LossContext:
    """What a loss may need beyond the batch: the optimiser steps so far and the training set's size."""

    step: int = 0
    dataset_size: int = 1


@dataclass(frozen=True)
class LossTerms:
    """Batch means of each term (scalars) and the per-dimension KL (z,).

    `extra` holds an architecture's own terms (its ArchSpec.loss_terms), logged as train_<name> and val_<name>;
    `auxiliary`, when present, is what the model's second optimiser minimises (VAE.auxiliary_parameters).
    """

    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    total: torch.Tensor
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    auxiliary: torch.Tensor | None = None

    def scalars(self) -> dict[str, torch.Tensor]:
        """The scalar terms by name: recon, kl, the architecture's own, total."""
        return {"recon": self.recon, "kl": self.kl, **self.extra, "total": self.total}


def reconstruction_per_sample(output: torch.Tensor, x: torch.Tensor, recon: str) -> torch.Tensor:
    """-log p(x|z) per sample, (B,): Bernoulli (BCE with logits, summed over pixels) or the original's scaled MSE."""
    output = output.float()
    if recon == "bernoulli":
        return F.binary_cross_entropy_with_logits(output, x, reduction="none").flatten(1).sum(1)
    return GAUSSIAN_SCALE * (output - x).pow(2).flatten(1).mean(1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per sample and dimension, (B, z): Kingma & Welling 2014, appendix B."""
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def vae_loss(model, output, x: torch.Tensor, labels: torch.Tensor | None, context: LossContext | None = None):
    """The loss of `model` (any registered architecture) on one batch: its `LossTerms`."""
    return model.loss(output, x, labels, context or LossContext())
