"""DIP-VAE-I and -II (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts from Unlabeled
Observations")."""

from __future__ import annotations

import torch

from vaemodels.losses import LossContext
from vaemodels.models import VAE, Regularizer, VAEOutput

DIAGONAL_FACTOR = {"i": 10.0, "ii": 1.0}  # lambda_d / lambda_od when lambda_d is unset (disentanglement_lib's)


def code_covariance(mu: torch.Tensor, logvar: torch.Tensor, dip_type: str) -> torch.Tensor:
    """(z, z): DIP-VAE-I's Cov_p(x)[mu(x)], or DIP-VAE-II's Cov_q(z)[z] = E_p(x)[Sigma(x)] + Cov_p(x)[mu(x)]
    (Kumar et al. 2018, section 3), over the batch."""
    mu = mu.float()
    centred = mu - mu.mean(0, keepdim=True)  # (B, z)
    covariance = centred.T @ centred / mu.shape[0]  # (z, z)
    if dip_type == "ii":
        covariance = covariance + torch.diag(logvar.float().exp().mean(0))
    return covariance


def dip_penalties(covariance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two penalties that push a covariance to the identity, each (): sum_{i != j} C_ij^2 and
    sum_i (C_ii - 1)^2 (Kumar et al. 2018, section 3, weighted there by lambda_od and lambda_d)."""
    diagonal = torch.diagonal(covariance)
    off_diagonal = covariance.pow(2).sum() - diagonal.pow(2).sum()
    return off_diagonal, (diagonal - 1).pow(2).sum()


class DIPVAE(VAE):
    """The ELBO plus lambda_od x the off-diagonal and lambda_d x the diagonal covariance penalty."""

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        model = self.config.model
        off_diagonal, diagonal = dip_penalties(code_covariance(output.mu, output.logvar, model.dip_type))
        lambda_d = model.lambda_d if model.lambda_d is not None else DIAGONAL_FACTOR[model.dip_type] * model.lambda_od
        penalty = kl_dims.sum(1).mean() + model.lambda_od * off_diagonal + lambda_d * diagonal
        return Regularizer(penalty, {"dip_offdiag": off_diagonal, "dip_diag": diagonal})
