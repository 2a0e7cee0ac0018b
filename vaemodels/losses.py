"""One loss for every architecture, returning the named terms that flow to Tune, Parquet and the explorer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vaemodels.config import TrialConfig
from vaemodels.models import VAEOutput

GAUSSIAN_SCALE = 1000.0  # the original's reconstruction: 1000 x mean squared error over pixels


@dataclass(frozen=True)
class LossTerms:
    """Batch means of each term (scalars) and the per-dimension KL (z,)."""

    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    classifier: torch.Tensor | None
    accuracy: torch.Tensor | None
    total: torch.Tensor

    def scalars(self) -> dict[str, torch.Tensor]:
        """The scalar terms by name, leaving out those this model does not have."""
        terms = {"recon": self.recon, "kl": self.kl, "classifier": self.classifier, "total": self.total}
        terms["accuracy"] = self.accuracy
        return {name: value for name, value in terms.items() if value is not None}


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


def vae_loss(output: VAEOutput, x: torch.Tensor, labels: torch.Tensor | None, config: TrialConfig) -> LossTerms:
    """recon + beta * KL (+ classifier_weight * cross-entropy for `branched`), as batch means."""
    recon = reconstruction_per_sample(output.recon_logits, x, config.model.recon)  # (B,)
    kl_dims = kl_per_dim(output.mu, output.logvar)  # (B, z)
    kl = kl_dims.sum(1)  # (B,)
    total = recon + config.model.beta * kl
    classifier = accuracy = None
    if output.class_logits is not None:
        if labels is None:
            raise ValueError("a classifier branch needs labels")
        cross_entropy = F.cross_entropy(output.class_logits.float(), labels, reduction="none")  # (B,)
        total = total + config.model.classifier_weight * cross_entropy
        classifier = cross_entropy.mean()
        accuracy = (output.class_logits.argmax(1) == labels).float().mean()
    return LossTerms(recon.mean(), kl.mean(), kl_dims.mean(0), classifier, accuracy, total.mean())
