"""FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaemodels.config import TrialConfig
from vaemodels.losses import LossContext
from vaemodels.models import VAE, Regularizer, VAEOutput, uses_glorot
from vaemodels.networks import glorot_init

DISCRIMINATOR_WIDTH, DISCRIMINATOR_DEPTH = 1000, 6  # Kim & Mnih 2018, appendix A: 6 layers of 1000, LeakyReLU 0.2
DISCRIMINATOR_BETAS = (0.5, 0.9)  # its Adam's (Kim & Mnih 2018, appendix A; disentanglement_lib's shared.gin)


def discriminator(latent_dim: int) -> nn.Sequential:
    """An MLP from z to 2 logits: [z drawn from q(z), z drawn from the product of its marginals]."""
    layers: list[nn.Module] = []
    width = latent_dim
    for _ in range(DISCRIMINATOR_DEPTH):
        layers += [nn.Linear(width, DISCRIMINATOR_WIDTH), nn.LeakyReLU(0.2)]
        width = DISCRIMINATOR_WIDTH
    return nn.Sequential(*layers, nn.Linear(width, 2))


def permute_dims(z: torch.Tensor) -> torch.Tensor:
    """Each dimension shuffled across the batch on its own: samples of prod_j q(z_j) (Kim & Mnih 2018, Alg. 1)."""
    return torch.stack([column[torch.randperm(len(column), device=z.device)] for column in z.T], dim=1)


def density_ratio_tc(logits: torch.Tensor) -> torch.Tensor:
    """TC(z) ~ E_q(z)[log D(z) / (1 - D(z))] (Kim & Mnih 2018, eq. 3): the logit difference, averaged. ()"""
    return (logits[:, 0] - logits[:, 1]).mean()


def discriminator_loss(
    joint_logits: torch.Tensor, permuted_logits: torch.Tensor, clip: float | None = None
) -> torch.Tensor:
    """Cross-entropy of telling q(z) (class 0) from prod_j q(z_j) (class 1), the two halves averaged. ()

    With `clip`, the softmax probabilities are clipped to [clip, 1 - clip] before the log, as disentanglement_lib's
    discriminator does (1e-6): a term stops at -log(clip), with zero gradient. Without, the cross-entropy works on
    the logits, and a saturated term keeps a gradient of magnitude 1.
    """
    if clip is None:
        joint_target = torch.zeros(len(joint_logits), dtype=torch.long, device=joint_logits.device)
        permuted_target = torch.ones(len(permuted_logits), dtype=torch.long, device=permuted_logits.device)
        return 0.5 * (F.cross_entropy(joint_logits, joint_target) + F.cross_entropy(permuted_logits, permuted_target))
    joint_p = F.softmax(joint_logits, dim=1)[:, 0].clamp(clip, 1.0 - clip)  # (B,) P(class 0 | z)
    permuted_p = F.softmax(permuted_logits, dim=1)[:, 1].clamp(clip, 1.0 - clip)  # (B,) P(class 1 | permuted z)
    return -0.5 * (joint_p.log().mean() + permuted_p.log().mean())


class FactorVAE(VAE):
    """The ELBO plus tc_gamma x the discriminator's TC estimate (Kim & Mnih 2018, eq. 2); the discriminator trains
    with its own Adam on the same batch's z against its dimension-permuted copy, after the VAE's step."""

    def __init__(self, config: TrialConfig) -> None:
        super().__init__(config)
        self.discriminator = discriminator(config.model.latent_dim)
        if uses_glorot(config):
            glorot_init(self.discriminator)

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        z = output.z.float()
        tc = density_ratio_tc(self.discriminator(z))
        detached = z.detach()  # the discriminator's loss trains the discriminator only
        joint_logits, permuted_logits = self.discriminator(detached), self.discriminator(permute_dims(detached))
        disc_loss = discriminator_loss(joint_logits, permuted_logits, self.config.model.disc_clip)
        correct = torch.cat([joint_logits.argmax(1) == 0, permuted_logits.argmax(1) == 1]).float().mean()
        penalty = kl_dims.sum(1).mean() + self.config.model.tc_gamma * tc
        return Regularizer(penalty, {"tc": tc, "disc_loss": disc_loss, "disc_accuracy": correct}, disc_loss)

    def auxiliary_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())

    def auxiliary_optimizer(self) -> torch.optim.Optimizer:
        lr = self.config.model.disc_lr
        return torch.optim.Adam(self.auxiliary_parameters(), lr=lr, betas=DISCRIMINATOR_BETAS)
