"""Contract tests over the registry: every architecture x body x input size behaves the same way."""

import pytest
import torch

from vaemodels import ARCHITECTURES, TrialConfig, create_model, list_models, vae_loss
from vaemodels.networks import KERAS_BN, KERAS_LEAKY_SLOPE

BODIES = [("conv", "mnist_5k", 28), ("conv", "shapes", 32), ("conv", "shapes", 64), ("original", "mnist_5k", 28)]
BODIES += [("disentanglement_lib", "shapes", 64)]


def make(arch: str, net: str = "conv", dataset: str = "mnist_5k", size: int = 28, **keys) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(
        TrialConfig.from_dict({"arch": arch, "net": net, "dataset": dataset, "image_size": size, **keys})
    )


def batch(model, n: int = 4):
    size, classes = model.config.data.image_size, model.num_classes
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, size, size, generator=generator)
    return x, torch.arange(n) % classes


def test_registry_lists_the_architectures_and_the_disentanglement_methods():
    assert list_models() == ["vae", "conditional", "branched", "beta_tcvae", "factor_vae", "dip_vae", "annealed_vae"]


@pytest.mark.parametrize("arch", list_models())
@pytest.mark.parametrize(("net", "dataset", "size"), BODIES)
@pytest.mark.parametrize("recon", ["bernoulli", "gaussian"])
def test_shapes_finite_loss_and_every_parameter_gets_a_gradient(arch, net, dataset, size, recon):
    model = make(arch, net, dataset, size, latent_dim=5, recon=recon)
    x, labels = batch(model)
    out = model(x, labels)
    assert out.recon_logits.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (4, 5)
    assert (out.class_logits is not None) == (arch == "branched")
    if out.class_logits is not None:
        assert out.class_logits.shape == (4, model.num_classes)
    terms = vae_loss(model, out, x, labels)
    assert torch.isfinite(terms.total) and all(torch.isfinite(value) for value in terms.scalars().values())
    assert terms.kl_per_dim.shape == (5,)
    assert set(terms.scalars()) == {"recon", "kl", "total", *ARCHITECTURES[arch].loss_terms}
    terms.total.backward()
    if terms.auxiliary is not None:  # FactorVAE's discriminator loss, its second optimiser's
        terms.auxiliary.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_total_is_recon_plus_beta_kl():
    model = make("vae", beta=4.0)
    x, labels = batch(model)
    terms = vae_loss(model, model(x, labels), x, labels)
    assert torch.allclose(terms.total, terms.recon + 4.0 * terms.kl)
    assert torch.allclose(terms.kl, terms.kl_per_dim.sum())


def test_kl_is_zero_at_the_prior_and_matches_closed_form():
    from vaemodels.losses import kl_per_dim

    assert torch.equal(kl_per_dim(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2, 3))
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[0.5]])
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(1.0, torch.exp(torch.tensor(0.25))), torch.distributions.Normal(0.0, 1.0)
    )
    assert torch.allclose(kl_per_dim(mu, logvar)[0, 0], expected)


def test_conditional_decoder_uses_the_label_only_with_decoder_conditioning():
    for conditioning, should_differ in ((True, True), (False, False)):
        model = make("conditional", decoder_conditioning=conditioning).eval()
        z = torch.randn(1, model.latent_dim)
        zero, seven = model.decode(z, torch.tensor([0])), model.decode(z, torch.tensor([7]))
        assert (not torch.equal(zero, seven)) == should_differ


def test_conditional_encoder_always_sees_the_label():
    model = make("conditional", decoder_conditioning=False).eval()
    x, _ = batch(model, 1)
    mu_a, _ = model.encode(x, torch.tensor([1]))
    mu_b, _ = model.encode(x, torch.tensor([2]))
    assert not torch.equal(mu_a, mu_b)


def test_conditional_without_labels_is_a_clear_error():
    model = make("conditional")
    with pytest.raises(ValueError, match="needs labels"):
        model(torch.rand(2, 1, 28, 28))


@pytest.mark.parametrize(("classifier_on", "reaches_z"), [("features", False), ("z", True)])
def test_branched_head_attaches_where_classifier_on_says(classifier_on, reaches_z):
    model = make("branched", classifier_on=classifier_on)
    x, labels = batch(model)
    out = model(x, labels)
    out.z.retain_grad()
    torch.nn.functional.cross_entropy(out.class_logits, labels).backward()
    z_grad = out.z.grad
    assert (z_grad is not None and z_grad.abs().sum() > 0) == reaches_z


def test_original_network_matches_the_seed_description():
    model = make("branched", net="original", latent_dim=4)
    trunk = model.encoder_trunk
    assert [type(m).__name__ for m in trunk] == [
        "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten",
    ]  # fmt: skip
    assert trunk[0].padding == (0, 0) and trunk[0].stride == (2, 2)
    assert trunk[1].momentum == KERAS_BN["momentum"] and trunk[1].eps == KERAS_BN["eps"]
    assert trunk[2].negative_slope == KERAS_LEAKY_SLOPE
    assert model.to_moments.in_features == 2304 and model.to_moments.out_features == 8
    assert isinstance(model.decoder[-1], torch.nn.ConvTranspose2d)  # linear output: no activation
    assert all(float(layer.bias.detach().abs().sum()) == 0 for layer in model.modules() if hasattr(layer, "bias") and
               isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)))  # fmt: skip
    head = [m.out_features for m in model.classifier if isinstance(m, torch.nn.Linear)]
    assert head == [128, 64, 10]
    assert model.classifier[0].in_features == 2304


def test_decode_image_is_in_unit_range():
    for recon in ("bernoulli", "gaussian"):
        model = make("vae", recon=recon).eval()
        image = model.decode_image(torch.randn(3, model.latent_dim) * 5)
        assert image.min() >= 0 and image.max() <= 1
