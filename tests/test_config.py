"""TrialConfig: one validated conversion from flat keys, clear errors naming the key and value."""

import pytest

from vaemodels import ConfigError, TrialConfig, create_model


def test_round_trip_through_flat_keys():
    config = TrialConfig.from_dict({"arch": "branched", "latent_dim": 4, "beta": 2.5, "classifier_on": "z"})
    flat = config.to_dict()
    assert flat["classifier_on"] == "z" and flat["classifier_weight"] == 1.0
    assert "decoder_conditioning" not in flat
    assert TrialConfig.from_dict(flat) == config


def test_architecture_defaults_fill_in():
    assert TrialConfig.from_dict({"arch": "conditional"}).model.decoder_conditioning is True
    assert TrialConfig.from_dict({"dataset": "shapes"}).data.image_size == 64


def test_missing_cells_from_parquet_count_as_unset():
    config = TrialConfig.from_dict({"arch": "vae", "classifier_weight": float("nan"), "decoder_conditioning": None})
    assert config.model.arch == "vae"


@pytest.mark.parametrize(
    ("flat", "message"),
    [
        ({"arch": "gan"}, r"arch='gan' is not a registered architecture; choose from vae, conditional, branched"),
        ({"latent_size": 3}, r"unknown config key 'latent_size'"),
        ({"beta": -1.0}, r"beta=-1.0 is invalid"),
        ({"latent_dim": 0}, r"latent_dim=0 is invalid"),
        ({"arch": "vae", "classifier_weight": 2.0}, r"'classifier_weight' applies only to arch='branched'"),
        (
            {"arch": "branched", "decoder_conditioning": True},
            r"'decoder_conditioning' applies only to arch='conditional'",
        ),
        ({"net": "original", "dataset": "shapes", "image_size": 64}, r"image_size=64 is invalid: expected 28"),
        ({"dataset": "shapes", "image_size": 48}, r"image_size=48 is invalid"),
        ({"dataset": "cifar"}, r"dataset='cifar' is unknown"),
        ({"latent_dim": 2.5}, r"latent_dim=2.5 is invalid: expected an integer"),
        ({"arch": "branched", "classifier_weight": 0}, r"classifier_weight=0.0 is invalid"),
        ({"arch": "branched", "classifier_on": "logits"}, r"classifier_on='logits' is invalid"),
        ({"recon": "laplace"}, r"recon='laplace' is invalid"),
        ({"plateau_stop": "maybe"}, r"plateau_stop='maybe' is invalid"),
    ],
)
def test_bad_configs_name_the_key_and_value(flat, message):
    with pytest.raises(ConfigError, match=message):
        TrialConfig.from_dict(flat)


def test_create_model_validates_a_flat_dict():
    with pytest.raises(ConfigError, match="beta"):
        create_model({"beta": -2})
    assert create_model({"arch": "vae", "latent_dim": 3}).latent_dim == 3


def test_replace_validates_again():
    config = TrialConfig.from_dict({"arch": "vae"})
    assert config.replace(beta=8.0).model.beta == 8.0
    with pytest.raises(ConfigError, match="latent_dim"):
        config.replace(latent_dim=-1)


def test_data_seed_defaults_to_0_and_a_config_made_before_it_reads_as_its_seed():
    assert TrialConfig.from_dict({"seed": 3}).data.data_seed == 0  # a new config: the data does not follow `seed`
    assert TrialConfig.from_dict({"seed": 3, "data_seed": 5}).to_dict()["data_seed"] == 5
    old = {"seed": 3, "schema_version": 2}  # a config.json written before data_seed existed
    assert TrialConfig.from_dict(old).data.data_seed == 3
    assert TrialConfig.from_dict({**old, "data_seed": 1}).data.data_seed == 1


def test_an_old_trials_table_reads_with_data_seed_equal_to_seed(tmp_path):
    import pandas as pd

    from vaemodels import read_trials_table, resolve

    pd.DataFrame({"trial_id": ["a", "b"], "status": ["TERMINATED"] * 2, "seed": [0, 4]}).to_parquet(
        tmp_path / "trials.parquet"
    )
    frame, _ = read_trials_table(resolve(str(tmp_path)))
    assert frame["data_seed"].tolist() == [0, 4]


def test_an_architectures_own_key_is_an_attribute_of_its_model_config_only():
    branched = TrialConfig.from_dict({"arch": "branched", "classifier_weight": 2})
    assert branched.model.classifier_weight == 2.0 and branched.model.classifier_on == "features"
    with pytest.raises(AttributeError, match="classifier_weight"):
        _ = TrialConfig.from_dict({"arch": "vae"}).model.classifier_weight
