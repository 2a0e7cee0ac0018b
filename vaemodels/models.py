"""The base VAE (beta-VAE), the conditional VAE, the VAE with a classifier branch, and `create_model`.

Every architecture (these and the disentanglement methods in vaemodels/methods/) shares one forward signature, one
output type and one loss signature, so the training loop, the trial adapter and the explorer never branch on it.
An architecture changes what its `regularizer` adds to the reconstruction term, and may train auxiliary parameters
(FactorVAE's discriminator) with a second optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vaemodels.architectures import ARCHITECTURES
from vaemodels.config import TrialConfig
from vaemodels.losses import LossContext, LossTerms, kl_per_dim, reconstruction_per_sample
from vaemodels.networks import build_body, classifier_head, glorot_init, glorot_init_halves, tile_labels


class VAEOutput(NamedTuple):
    """What every model's forward returns."""

    recon_logits: torch.Tensor  # (B, C, H, W): Bernoulli logits, or intensities for `gaussian`
    mu: torch.Tensor  # (B, z)
    logvar: torch.Tensor  # (B, z)
    z: torch.Tensor  # (B, z): one reparameterised sample
    class_logits: torch.Tensor | None  # (B, K) for `branched`, else None


@dataclass(frozen=True)
class Regularizer:
    """What an architecture adds to the reconstruction term: the penalty, its named parts, an auxiliary loss."""

    penalty: torch.Tensor  # () added to the batch-mean reconstruction term
    terms: dict[str, torch.Tensor] = field(
        default_factory=dict
    )  # () each: logged as train_<name>, val_<name> (ArchSpec.loss_terms)
    auxiliary: torch.Tensor | None = None  # () minimised by the second optimiser, over auxiliary_parameters()


class VAE(nn.Module):
    """beta-VAE (Higgins et al. 2017): a Gaussian encoder, a decoder, a beta-weighted KL."""

    conditions_encoder = False
    conditions_decoder = False

    def __init__(self, config: TrialConfig) -> None:
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        self.latent_dim = config.model.latent_dim
        label_channels = self.num_classes if self.conditions_encoder else 0
        decoder_in = self.latent_dim + (self.num_classes if self.conditions_decoder else 0)
        body = build_body(
            config.model.net, config.channels + label_channels, config.channels, config.data.image_size, decoder_in
        )
        self.encoder_trunk = body.encoder
        self.to_moments = nn.Linear(body.features, 2 * self.latent_dim)  # mean and log-variance, one layer
        self.decoder = body.decoder
        self.features = body.features
        if uses_glorot(config):
            glorot_init(self)
            glorot_init_halves(self.to_moments)  # disentanglement_lib's `means` and `log_var`: two dense layers

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> VAEOutput:
        features = self.encoder_trunk(self._encoder_input(x, labels))  # (B, F)
        mu, logvar = self.to_moments(features).chunk(2, dim=1)  # (B, z) each
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # reparameterisation trick
        return VAEOutput(self.decoder(self._decoder_input(z, labels)), mu, logvar, z, self._classify(features, z))

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior moments (mu, logvar), each (B, z)."""
        mu, logvar = self.to_moments(self.encoder_trunk(self._encoder_input(x, labels))).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output for latent codes (logits for `bernoulli`), (B, C, H, W)."""
        return self.decoder(self._decoder_input(z, labels))

    def decode_image(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1] for latent codes, (B, C, H, W)."""
        return output_to_image(self.decode(z, labels), self.config.model.recon)

    def loss(self, output: VAEOutput, x: torch.Tensor, labels: torch.Tensor | None, context: LossContext) -> LossTerms:
        """recon + the architecture's regularizer, as batch means."""
        recon = reconstruction_per_sample(output.recon_logits, x, self.config.model.recon)  # (B,)
        kl_dims = kl_per_dim(output.mu, output.logvar)  # (B, z)
        kl = kl_dims.sum(1).mean()
        extra = self.regularizer(output, kl_dims, labels, context)
        total = recon.mean() + extra.penalty
        return LossTerms(recon.mean(), kl, kl_dims.mean(0), total, dict(extra.terms), extra.auxiliary)

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        """beta * KL(q(z|x) || p(z)) (Higgins et al. 2017, eq. 4); beta = 1 is the ELBO's own KL."""
        return Regularizer(self.config.model.beta * kl_dims.sum(1).mean())

    def auxiliary_parameters(self) -> list[nn.Parameter]:
        """Parameters the second optimiser trains on `LossTerms.auxiliary` (none but FactorVAE's discriminator)."""
        return []

    def auxiliary_optimizer(self) -> torch.optim.Optimizer | None:
        """The second optimiser, over auxiliary_parameters(); None for a model without one."""
        return None

    def _one_hot(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        if labels is None:
            raise ValueError(f"arch={self.config.model.arch!r} needs labels")
        if labels.shape != (batch,):
            raise ValueError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
        return F.one_hot(labels.clamp(min=0), self.num_classes).float()  # (B, K)

    def _encoder_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return x

    def _decoder_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return z

    def _classify(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor | None:
        return None


class ConditionalVAE(VAE):
    """Conditional VAE (Sohn et al. 2015): the label tiled onto the encoder input and, by default, the decoder."""

    conditions_encoder = True

    def __init__(self, config: TrialConfig) -> None:
        self.conditions_decoder = bool(config.model.decoder_conditioning)
        super().__init__(config)

    def _encoder_input(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        one_hot = self._one_hot(labels, x.shape[0]).to(x.dtype)
        return torch.cat([x, tile_labels(one_hot, x.shape[-1])], dim=1)  # (B, C + K, H, W)

    def _decoder_input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.conditions_decoder:
            return z  # the original: q(z|x,c) but p(x|z)
        return torch.cat([z, self._one_hot(labels, z.shape[0]).to(z.dtype)], dim=1)  # (B, z + K)


class BranchedVAE(VAE):
    """VAE with a classifier branch on the conv features (the original) or on z."""

    def __init__(self, config: TrialConfig) -> None:
        super().__init__(config)
        self.classifier_on = config.model.classifier_on
        head_in = self.features if self.classifier_on == "features" else self.latent_dim
        self.classifier = classifier_head(head_in, self.num_classes)
        if uses_glorot(config):
            glorot_init(self.classifier)

    def _classify(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.classifier(features if self.classifier_on == "features" else z)  # (B, K)

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        """beta * KL + classifier_weight * the classifier branch's cross-entropy."""
        if labels is None or output.class_logits is None:
            raise ValueError("a classifier branch needs labels")
        cross_entropy = F.cross_entropy(output.class_logits.float(), labels)
        accuracy = (output.class_logits.argmax(1) == labels).float().mean()
        penalty = super().regularizer(output, kl_dims, labels, context).penalty
        penalty = penalty + self.config.model.classifier_weight * cross_entropy
        return Regularizer(penalty, {"classifier": cross_entropy, "accuracy": accuracy})


def uses_glorot(config: TrialConfig) -> bool:
    """Whether the networks start as TF1/Keras started them: init=reference, or the Keras port net=original."""
    return config.model.init == "reference" or config.model.net == "original"


def output_to_image(output: torch.Tensor, recon: str) -> torch.Tensor:
    """Decoder output -> pixel intensities in [0, 1]: sigmoid for Bernoulli logits, clamp for `gaussian`."""
    return torch.sigmoid(output) if recon == "bernoulli" else output.clamp(0.0, 1.0)


def create_model(config: TrialConfig | dict) -> VAE:
    """Build the model a config describes (a flat dict is validated first)."""
    if not isinstance(config, TrialConfig):
        config = TrialConfig.from_dict(config)
    return ARCHITECTURES[config.model.arch].model_class()(config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
