"""The disentanglement_lib training choices, each a config key: beta-TCVAE's minibatch-weighted TC, glorot
initialisation, FactorVAE's step counting, i.i.d. batches, and the discriminator's clipped probabilities."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sweeps.settings import make_settings
from sweeps.space import grid_configs
from vaemodels import training
from vaemodels.checkpoint import checkpoint_name, restore_state, write_epoch_checkpoint
from vaemodels.config import TrialConfig
from vaemodels.datasets import load_dataset
from vaemodels.losses import LossContext, kl_per_dim
from vaemodels.methods.factor_vae import discriminator_loss
from vaemodels.models import VAEOutput, create_model
from vaemodels.trial_folder import fell_short

TINY = {"dataset": "shapes", "image_size": 32, "n_samples": 200, "batch_size": 16, "latent_dim": 2}

# Three samples of a 2-dimensional posterior, written out: z_i ~ q(z | x_i) = N(mu_i, exp(logvar_i)).
Z = [[0.1, -0.4], [0.7, 0.2], [-0.5, 0.3]]
MU = [[0.0, -0.5], [0.5, 0.0], [-0.4, 0.6]]
LOGVAR = [[0.0, -0.5], [-1.0, 0.2], [0.3, 0.0]]


def normal_density(x: float, mean: float, logvar: float) -> float:
    return math.exp(-0.5 * (x - mean) ** 2 / math.exp(logvar)) / math.sqrt(2 * math.pi * math.exp(logvar))


def hand_mws_tc() -> float:
    """disentanglement_lib's total_correlation by hand: mean_j [log sum_i q(z_j | x_i) - sum_l log sum_i
    q(z_jl | x_i)], every posterior of the batch weighted alike, the constants dropped."""
    total = 0.0
    for z in Z:
        joint = sum(
            normal_density(z[0], mu[0], lv[0]) * normal_density(z[1], mu[1], lv[1]) for mu, lv in zip(MU, LOGVAR)
        )
        product = sum(math.log(sum(normal_density(z[d], mu[d], lv[d]) for mu, lv in zip(MU, LOGVAR))) for d in (0, 1))
        total += math.log(joint) - product
    return total / len(Z)


def hand_kl() -> float:
    """The analytic KL(q(z|x) || N(0, I)), summed over dims and averaged over the batch."""
    return sum(0.5 * (m * m + math.exp(v) - v - 1) for mu, lv in zip(MU, LOGVAR) for m, v in zip(mu, lv)) / len(Z)


def test_mws_is_the_minibatch_weighted_estimate_and_the_objective_is_kl_plus_beta_minus_one_tc():
    tc_weight, dataset_size = 6.0, 1000
    model = create_model({**TINY, "arch": "beta_tcvae", "tc_weight": tc_weight, "tc_estimator": "mws"})
    z, mu, logvar = (torch.tensor(values, dtype=torch.float64) for values in (Z, MU, LOGVAR))
    output = VAEOutput(None, mu, logvar, z, None)
    found = model.regularizer(output, kl_per_dim(mu, logvar).double(), None, LossContext(0, dataset_size))
    tc = hand_mws_tc()
    assert found.penalty.item() == pytest.approx(hand_kl() + (tc_weight - 1.0) * tc, rel=1e-6)
    # The logged TC keeps the constant the library drops: (d - 1) log B, the batch's posteriors weighted 1/B each.
    assert found.terms["tc"].item() == pytest.approx(tc + math.log(3), abs=1e-6)  # float32 sums of ~1 nat
    stratified = create_model({**TINY, "arch": "beta_tcvae", "tc_weight": tc_weight})
    other = stratified.regularizer(output, kl_per_dim(mu, logvar).double(), None, LossContext(0, dataset_size))
    assert abs(other.penalty.item() - found.penalty.item()) > 1.0  # the two objectives differ on this batch


def glorot_std(weight: torch.Tensor) -> float:
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
    return math.sqrt(2.0 / (fan_in + fan_out))


def test_reference_init_is_glorot_uniform_with_zero_biases_and_the_moments_head_is_two_layers():
    # 128 latents: the moments head's two layers of 128 (std 0.072) tell apart from one fused layer of 256 (0.063).
    keys = {"dataset": "shapes", "image_size": 64, "net": "disentanglement_lib", "latent_dim": 128}
    model = create_model({**keys, "arch": "factor_vae", "init": "reference"})
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    assert len(layers) == 4 + 1 + 1 + 2 + 4 + 7  # encoder convs, dense, moments, decoder dense and deconvs, disc
    for layer in layers:
        assert not layer.bias.any(), layer
        kernels = layer.weight.chunk(2, dim=0) if layer is model.to_moments else (layer.weight,)
        for kernel in kernels:
            expected = glorot_std(kernel)
            assert abs(kernel.std().item() - expected) < 0.1 * expected, layer
            assert kernel.abs().max().item() <= math.sqrt(3) * expected + 1e-7, layer  # U(-b, b): b = sqrt(3) std
    assert model.to_moments.weight.shape == (256, 256)
    torch_init = create_model({**keys, "arch": "factor_vae"})
    assert torch_init.to_moments.bias.any() and torch_init.discriminator[0].bias.any()  # PyTorch's default


TRAIN_STEP = training._train_step  # the unpatched step, which each recording wraps


def train_recording(config: TrialConfig, monkeypatch, state=None, callbacks=()) -> tuple[training.TrainState, list]:
    """Train, recording each training batch's images (as one number a row) and each optimiser's steps."""
    seen: list[tuple[float, ...]] = []

    def recording(config, state, x, labels, dataset_size, device):
        seen.append(tuple(x.flatten(1).sum(1).tolist()))
        return TRAIN_STEP(config, state, x, labels, dataset_size, device)

    monkeypatch.setattr(training, "_train_step", recording)
    state = training.fit(config, load_dataset(config), callbacks=callbacks, device="cpu", state=state)
    return state, seen


def adam_steps(optimizer: torch.optim.Optimizer) -> int:
    return int(next(iter(optimizer.state.values()))["step"])


def test_factor_vae_makes_half_as_many_updates_as_library_steps(monkeypatch):
    study = grid_configs(make_settings("disentanglement-study"))
    budgets = {config.model.arch: config.update_budget for config in study}
    assert budgets == dict.fromkeys(("vae", "annealed_vae", "dip_vae", "beta_tcvae"), 300_000) | {"factor_vae": 150_000}
    preset = next(config for config in study if config.model.arch == "factor_vae")
    scaled = preset.replace(max_steps=20, dataset="shapes", image_size=32, net="conv", n_samples=200)
    state, seen = train_recording(scaled, monkeypatch)
    assert len(seen) == state.steps == 10 and state.history[-1]["steps"] == 10
    assert adam_steps(state.optimizer) == adam_steps(state.auxiliary) == 10  # the VAE's and the discriminator's
    row = {**scaled.to_dict(), "steps": state.steps}
    assert not fell_short(row)  # 10 updates is the whole budget of 20 optimiser steps
    assert fell_short({**row, "steps": 9})
    by_updates, _ = train_recording(scaled.replace(max_steps_counts="updates"), monkeypatch)
    assert by_updates.steps == 20


def test_iid_batches_after_a_resume_mid_run_are_those_of_an_uninterrupted_run(tmp_path, monkeypatch):
    config = TrialConfig.from_dict({**TINY, "sampling": "iid", "epochs": 3, "embed_samples": 20})
    _, batches = train_recording(config, monkeypatch)
    per_epoch = 200 // 16  # every row (the validation ones too) // batch_size
    assert len(batches) == 3 * per_epoch and all(len(batch) == 16 for batch in batches)

    def stop_after_one(event):
        write_epoch_checkpoint(tmp_path / checkpoint_name(event.state.epoch), event)
        if event.state.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recording(config, monkeypatch, callbacks=[stop_after_one])
    assert (tmp_path / checkpoint_name(1) / "sampler.pt").exists()
    _, restored = restore_state(tmp_path / checkpoint_name(1))
    _, resumed = train_recording(config, monkeypatch, state=restored)
    assert resumed == batches[per_epoch:]
    data = load_dataset(config)
    validation = {round(v, 3) for v in data.batch(data.val_idx).flatten(1).sum(1).tolist()}
    assert validation & {round(v, 3) for batch in batches for v in batch}  # drawn from every row, not the split


def test_clipped_discriminator_term_stops_at_minus_log_clip_with_zero_gradient():
    clip = 1e-6
    joint = torch.tensor([[-30.0, 0.0]], requires_grad=True)  # P(class 0) ~ 1e-13: clipped up to 1e-6
    permuted = torch.tensor([[-30.0, 0.0]], requires_grad=True)  # P(class 1) ~ 1: clipped down to 1 - 1e-6
    loss = discriminator_loss(joint, permuted, clip)
    assert loss.item() == pytest.approx(-0.5 * (math.log(clip) + math.log(1 - clip)), rel=1e-5)
    loss.backward()
    assert not joint.grad.any() and not permuted.grad.any()
    joint.grad = None
    unclipped = discriminator_loss(joint, permuted)
    assert unclipped.item() > 14.0  # grows without bound: 0.5 x 30
    unclipped.backward()
    assert joint.grad.abs().max().item() == pytest.approx(0.5)  # a saturated term keeps its gradient
    model = create_model({**TINY, "arch": "factor_vae", "disc_clip": clip})
    x = torch.rand(8, 1, 32, 32)
    terms = model.loss(model(x), x, None, LossContext(0, 200))
    assert 0 < terms.auxiliary.item() <= -math.log(clip)


def test_the_tc_weight_example_sweeps_three_weights_with_the_presets_training_choices():
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "tc_weight.yaml"
    configs = grid_configs(make_settings(config=example))
    assert [config.model.tc_weight for config in configs] == [1.0, 4.0, 10.0]
    study = next(c for c in grid_configs(make_settings("disentanglement-study")) if c.model.arch == "beta_tcvae")
    for config in configs:
        assert config.model.tc_estimator == study.model.tc_estimator == "mws"
        assert (config.model.init, config.train.sampling) == (study.model.init, study.train.sampling)
        assert (config.train.lr, config.train.batch_size) == (study.train.lr, study.train.batch_size)
