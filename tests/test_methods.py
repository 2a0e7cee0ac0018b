"""The disentanglement methods: each estimator against a case whose answer follows from its definition, then
training, resuming and the registry's rules (`beta` refused, the step budget)."""

import math

import pytest
import torch

from vaemodels import ARCHITECTURES, ConfigError, TrialConfig, create_model, fit, load_dataset
from vaemodels.checkpoint import restore_state, save_checkpoint
from vaemodels.losses import LossContext
from vaemodels.methods.annealed_vae import capacity, capacity_penalty
from vaemodels.methods.beta_tcvae import kl_decomposition
from vaemodels.methods.dip_vae import code_covariance, dip_penalties
from vaemodels.methods.factor_vae import density_ratio_tc, discriminator, discriminator_loss, permute_dims

METHODS = ["beta_tcvae", "factor_vae", "dip_vae", "annealed_vae"]
EQUICORRELATED = torch.tensor([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])  # det 0.5


def gaussian_posteriors(correlation: torch.Tensor, n: int, spread: float, seed: int):
    """q(z|n) = N(mu_n, spread^2 I) with mu_n ~ N(0, R - spread^2 I): the aggregate posterior is N(0, R)."""
    generator = torch.Generator().manual_seed(seed)
    dims = correlation.shape[0]
    factor = torch.linalg.cholesky(correlation - spread**2 * torch.eye(dims))
    mu = torch.randn(n, dims, generator=generator) @ factor.T
    z = mu + spread * torch.randn(n, dims, generator=generator)
    return z, mu, torch.full_like(mu, math.log(spread**2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beta_tcvae_total_correlation_of_a_correlated_gaussian_is_half_log_det(seed):
    """TC(N(0, R)) = sum_j H(z_j) - H(z) = -1/2 log det R for unit-variance marginals: 0.3466 nats here.

    With the whole set of 2,000 as the batch the estimator is the exact aggregate of the finite set; what is left is
    Monte-Carlo error (over five seeds the estimates spread 0.343-0.360), so 0.05 nats is over five of its spreads.
    A batch of 500 from 8,000 adds the estimator's own error (0.332-0.358 over five seeds): the same tolerance.
    """
    target = -0.5 * math.log(torch.linalg.det(EQUICORRELATED).item())
    z, mu, logvar = gaussian_posteriors(EQUICORRELATED, 2000, spread=0.5, seed=seed)
    _, tc, _ = kl_decomposition(z, mu, logvar, dataset_size=2000)
    assert abs(tc.item() - target) < 0.05
    z, mu, logvar = gaussian_posteriors(EQUICORRELATED, 8000, spread=0.5, seed=seed)
    batches = [
        kl_decomposition(z[i : i + 500], mu[i : i + 500], logvar[i : i + 500], 8000)[1] for i in range(0, 8000, 500)
    ]
    assert abs(torch.stack(batches).mean().item() - target) < 0.05


def test_beta_tcvae_terms_vanish_for_a_posterior_that_ignores_x():
    """q(z|n) = N(0, I) for every n: q(z) = q(z|n) = p(z), so MI = TC = dimension-wise KL = 0 exactly."""
    z = torch.randn(256, 4, generator=torch.Generator().manual_seed(0))
    mi, tc, dwkl = kl_decomposition(z, torch.zeros_like(z), torch.zeros_like(z), dataset_size=10_000)
    assert abs(mi.item()) < 1e-5 and abs(tc.item()) < 1e-5 and abs(dwkl.item()) < 1e-5


def test_beta_tcvae_independent_codes_have_no_total_correlation_but_carry_information():
    z, mu, logvar = gaussian_posteriors(torch.eye(3), 2000, spread=0.3, seed=4)
    mi, tc, _ = kl_decomposition(z, mu, logvar, dataset_size=2000)
    assert abs(tc.item()) < 0.05 and mi.item() > 1.0  # a narrow posterior pins n down: I(z; n) is large


def test_dip_penalties_are_zero_for_identity_covariance_and_positive_otherwise():
    generator = torch.Generator().manual_seed(0)
    raw = torch.randn(500, 4, generator=generator)
    centred = raw - raw.mean(0)
    whitened = centred @ torch.linalg.inv(torch.linalg.cholesky(centred.T @ centred / 500)).T  # Cov exactly I
    off, diag = dip_penalties(code_covariance(whitened, torch.full_like(whitened, -30.0), "i"))
    assert off.item() < 1e-8 and diag.item() < 1e-8
    # DIP-VAE-II adds E[Sigma(x)]: means of covariance 0.75 I plus posterior variances 0.25 make the identity
    off, diag = dip_penalties(
        code_covariance(whitened * math.sqrt(0.75), torch.full_like(whitened, math.log(0.25)), "ii")
    )
    assert off.item() < 1e-8 and diag.item() < 1e-8
    correlated = whitened @ torch.tensor([[1.0, 0.6, 0, 0], [0, 0.8, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    off, diag = dip_penalties(code_covariance(correlated, torch.zeros_like(correlated), "i"))
    assert off.item() == pytest.approx(2 * 0.6**2, rel=1e-4) and diag.item() == pytest.approx(0.0, abs=1e-5)
    off, diag = dip_penalties(code_covariance(2 * whitened, torch.zeros_like(whitened), "i"))
    assert off.item() < 1e-6 and diag.item() == pytest.approx(4 * 3**2, rel=1e-4)  # variance 4 on each of 4 dims


def test_annealed_capacity_rises_linearly_then_holds_and_its_term_is_zero_at_the_capacity():
    assert [capacity(step, 25.0, 100) for step in (0, 50, 100, 400)] == [0.0, 12.5, 25.0, 25.0]
    assert capacity_penalty(torch.tensor(12.5), 12.5, 1000.0).item() == 0.0
    assert capacity_penalty(torch.tensor(10.0), 12.5, 1000.0).item() == pytest.approx(2500.0)


@pytest.mark.slow
def test_factor_vae_discriminator_separates_correlated_codes_and_estimates_their_tc():
    """Trained on z against its dimension-permuted copy, the discriminator tells them apart when the dimensions
    are correlated (TC 0.83 nats at rho = 0.9) and cannot when they are independent (TC 0)."""

    def trained_tc(correlation: float) -> tuple[float, float]:
        torch.manual_seed(0)
        model = discriminator(2)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.5, 0.9))
        cov = torch.tensor([[1.0, correlation], [correlation, 1.0]])
        sample = torch.distributions.MultivariateNormal(torch.zeros(2), cov)
        for _ in range(60):  # the paper's 6 x 1000 MLP: about 1 s a step on 2 cores
            z = sample.sample((128,))
            loss = discriminator_loss(model(z), model(permute_dims(z)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            z = sample.sample((2000,))
            joint, permuted = model(z), model(permute_dims(z))
            accuracy = torch.cat([joint.argmax(1) == 0, permuted.argmax(1) == 1]).float().mean().item()
            return density_ratio_tc(joint).item(), accuracy

    correlated_tc, correlated_accuracy = trained_tc(0.9)
    independent_tc, independent_accuracy = trained_tc(0.0)
    assert correlated_accuracy > 0.7 and independent_accuracy < 0.6
    assert correlated_tc > 0.4 and abs(independent_tc) < 0.15 and correlated_tc > independent_tc + 0.3


def small(arch: str, **keys) -> TrialConfig:
    flat = {"arch": arch, "dataset": "shapes", "image_size": 32, "n_samples": 1200, "latent_dim": 4}
    return TrialConfig.from_dict({**flat, "batch_size": 64, "epochs": 2, "embed_samples": 200, **keys})


@pytest.mark.slow
@pytest.mark.parametrize("arch", METHODS)
def test_each_method_trains_two_epochs_with_a_falling_validation_loss_and_logs_its_terms(arch):
    config = small(arch, **({"capacity_steps": 20} if arch == "annealed_vae" else {}))
    state = fit(config, load_dataset(config))
    first, last = state.history
    assert last["loss"] < first["loss"]  # the validation -ELBO; AnnealedVAE's own total moves with its capacity
    for term in ARCHITECTURES[arch].loss_terms:
        assert math.isfinite(last[f"val_{term}"]) and math.isfinite(last[f"train_{term}"])
    assert last["steps"] == 2 * math.ceil(960 / 64)  # 1,200 samples, 80% to training
    if arch == "annealed_vae":
        assert last["val_capacity"] == pytest.approx(config.model.capacity_max)  # 30 steps: past the 20 of the ramp


def test_factor_vae_checkpoint_keeps_the_discriminator_and_its_optimiser_and_resumes(tmp_path):
    config = small("factor_vae", epochs=1, n_samples=300)
    data = load_dataset(config)
    state = fit(config, data)
    save_checkpoint(tmp_path, config, state, latents=None)
    assert (tmp_path / "auxiliary_optimizer.pt").exists()
    _, restored = restore_state(tmp_path)
    for name, tensor in state.model.discriminator.state_dict().items():
        assert torch.equal(tensor, restored.model.discriminator.state_dict()[name]), name
    assert restored.auxiliary.state_dict()["state"].keys() == state.auxiliary.state_dict()["state"].keys()
    assert restored.steps == state.steps > 0
    resumed = fit(config.replace(epochs=2), data, state=restored)
    assert resumed.epoch == 2 and resumed.steps == 2 * state.steps


def test_a_step_budget_stops_mid_epoch_and_resumes_to_the_same_budget(tmp_path):
    config = small("vae", max_steps=20, n_samples=300)  # 240 training rows: 4 steps an epoch
    data = load_dataset(config)
    half = fit(config.replace(max_steps=10), data)
    assert half.steps == 10 and half.epoch == 3  # 4 + 4 + 2
    save_checkpoint(tmp_path, config, half, latents=None)
    _, restored = restore_state(tmp_path)
    done = fit(config, data, state=restored)
    assert done.steps == 20 and [h["steps"] for h in done.history] == [4, 8, 10, 14, 18, 20]


def test_beta_is_refused_for_the_methods_and_their_rows_leave_it_empty():
    for arch in METHODS:
        with pytest.raises(ConfigError, match=f"'beta' does not apply to arch='{arch}'"):
            TrialConfig.from_dict({"arch": arch, "beta": 4.0})
        assert "beta" not in TrialConfig.from_dict({"arch": arch}).to_dict()
    assert TrialConfig.from_dict({"arch": "vae", "beta": 4.0}).to_dict()["beta"] == 4.0


def test_dip_vae_diagonal_weight_follows_the_papers_rule_unless_given():
    x = torch.rand(16, 1, 32, 32)
    for dip_type, factor in (("i", 10.0), ("ii", 1.0)):
        model = create_model(small("dip_vae", dip_type=dip_type, lambda_od=2.0))
        output = model(x)
        terms = model.loss(output, x, None, LossContext())
        expected = terms.recon + terms.kl + 2.0 * terms.extra["dip_offdiag"] + factor * 2.0 * terms.extra["dip_diag"]
        assert torch.allclose(terms.total, expected, rtol=1e-5)
    model = create_model(small("dip_vae", lambda_od=2.0, lambda_d=0.5))
    terms = model.loss(model(x), x, None, LossContext())
    assert torch.allclose(
        terms.total,
        terms.recon + terms.kl + 2.0 * terms.extra["dip_offdiag"] + 0.5 * terms.extra["dip_diag"],
        rtol=1e-5,
    )


def test_a_trial_that_spent_its_step_budget_did_not_stop_early():
    from vaemodels import fell_short

    assert not fell_short({"max_steps": 200, "steps": 200, "epochs": 10, "epochs_trained": 8})  # budget in steps
    assert fell_short({"max_steps": 200, "steps": 50, "epochs": 10, "epochs_trained": 2})  # ASHA-like stop
    assert fell_short({"max_steps": float("nan"), "epochs": 10, "epochs_trained": 8})  # no step budget: epochs
    assert not fell_short({"epochs": 4, "epochs_trained": 4})
