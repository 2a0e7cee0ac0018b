"""AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in beta-VAE")."""

from __future__ import annotations

import torch

from vaemodels.losses import LossContext
from vaemodels.models import VAE, Regularizer, VAEOutput


def capacity(step: int, capacity_max: float, capacity_steps: int) -> float:
    """The capacity C after `step` optimiser steps: rising linearly from 0 to capacity_max, then held."""
    return capacity_max * min(step / capacity_steps, 1.0)


def capacity_penalty(kl: torch.Tensor, target: float, gamma: float) -> torch.Tensor:
    """gamma |KL - C| (Burgess et al. 2018, eq. 8): zero when the KL equals the capacity."""
    return gamma * (kl - target).abs()


class AnnealedVAE(VAE):
    """The reconstruction plus capacity_gamma x |KL - C|, C following `capacity` (logged as a term)."""

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        model = self.config.model
        target = capacity(context.step, model.capacity_max, model.capacity_steps)
        penalty = capacity_penalty(kl_dims.sum(1).mean(), target, model.capacity_gamma)
        return Regularizer(penalty, {"capacity": torch.tensor(target, device=kl_dims.device)})
