"""beta-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in Variational Autoencoders")."""

from __future__ import annotations

import math

import torch

from vaemodels.losses import LossContext
from vaemodels.models import VAE, Regularizer, VAEOutput

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) elementwise (the shapes broadcast)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def log_importance_weights(batch: int, dataset_size: int, device: torch.device) -> torch.Tensor:
    """(B, B) log-weights of a stratified estimate of the aggregate posterior at each sample's own z.

    q(z_i) = 1/N sum_n q(z_i | n) over the N training samples. The batch holds z_i's own n_i, weighted 1/N, and
    B - 1 others drawn from the remaining N - 1, each standing for (N - 1) / (B - 1) of them: weight
    (N - 1) / (N (B - 1)). The estimate is unbiased inside the log, and exact when the batch is the whole set.
    """
    if batch < 2:
        return torch.zeros(batch, batch, device=device)  # no other sample: the posterior stands for q(z)
    size = max(dataset_size, batch)  # a batch is drawn from the set, so the set is at least that large
    weights = torch.full((batch, batch), math.log((size - 1) / (size * (batch - 1))), device=device)
    weights.fill_diagonal_(-math.log(size))
    return weights


def minibatch_weights(batch: int, dataset_size: int, device: torch.device) -> torch.Tensor:
    """(B, B) log-weights of minibatch-weighted sampling (Chen et al. 2018, Section 4): every posterior in the batch,
    the sample's own included, weighted alike, 1/B.

    The paper writes the weight as 1/(N B), which moves each density by -log N: a constant, (d - 1) log N in the TC,
    that moves no gradient (disentanglement_lib drops the constants altogether). 1/B keeps the logged terms on the
    stratified estimator's scale. What does move the gradient is the weight of the sample's own posterior: 1/B here,
    its true share 1/N in `log_importance_weights`.
    """
    return torch.full((batch, batch), -math.log(batch), device=device)


ESTIMATORS = {"stratified": log_importance_weights, "mws": minibatch_weights}


def mws_constant(latent_dim: int, batch: int) -> float:
    """(d - 1) log B: what `minibatch_weights`' TC adds to disentanglement_lib's `total_correlation`, which drops
    its constants."""
    return (latent_dim - 1) * math.log(batch)


def kl_decomposition(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int, estimator: str = "stratified"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index-code MI, total correlation and dimension-wise KL, each (), Chen et al. 2018 eq. 2:

    E_p(n)[KL(q(z|n) || p(z))] = KL(q(z, n) || q(z) p(n)) + KL(q(z) || prod_j q(z_j)) + sum_j KL(q(z_j) || p(z_j)),

    each expectation taken over the batch's own samples z_i ~ q(z | n_i), the densities of q(z) and of its marginals
    q(z_j) estimated from the batch with the `estimator`'s weights (ESTIMATORS). N = `dataset_size`, the training
    set's size. The three add up to the Monte-Carlo KL; each alone is what the known-answer tests check.
    """
    z, mu, logvar = z.float(), mu.float(), logvar.float()
    batch = z.shape[0]
    log_q_z_given_n = gaussian_log_density(z, mu, logvar).sum(1)  # (B,)
    pairs = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (B, B, z): log q(z_i,d | n_j)
    weights = ESTIMATORS[estimator](batch, dataset_size, z.device)  # (B, B)
    log_q_z = torch.logsumexp(weights + pairs.sum(2), dim=1)  # (B,)
    log_prod_marginals = torch.logsumexp(weights[:, :, None] + pairs, dim=1).sum(1)  # (B,)
    log_p_z = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)  # (B,)
    mi = (log_q_z_given_n - log_q_z).mean()
    tc = (log_q_z - log_prod_marginals).mean()
    dwkl = (log_prod_marginals - log_p_z).mean()
    return mi, tc, dwkl


class BetaTCVAE(VAE):
    """beta-TCVAE (Chen et al. 2018, eq. 4 with alpha = gamma = 1, beta = tc_weight), in one of two forms:

    - stratified: MI + tc_weight TC + dimension-wise KL, each estimated from the batch (`log_importance_weights`);
    - mws: disentanglement_lib's objective, the analytic KL + (tc_weight - 1) TC, TC by minibatch-weighted
      sampling. Its `total_correlation` drops the constant (d - 1) log B, so the objective here drops it too (the
      loss equals the library's); the logged `tc`, `mi` and `dwkl` keep it (`minibatch_weights`).
    """

    def regularizer(
        self, output: VAEOutput, kl_dims: torch.Tensor, labels: torch.Tensor | None, context: LossContext
    ) -> Regularizer:
        estimator, weight = self.config.model.tc_estimator, self.config.model.tc_weight
        mi, tc, dwkl = kl_decomposition(output.z, output.mu, output.logvar, context.dataset_size, estimator)
        terms = {"mi": mi, "tc": tc, "dwkl": dwkl}
        if estimator == "stratified":
            return Regularizer(mi + weight * tc + dwkl, terms)
        dropped = mws_constant(output.z.shape[1], output.z.shape[0])
        return Regularizer(kl_dims.sum(1).mean() + (weight - 1.0) * (tc - dropped), terms)
