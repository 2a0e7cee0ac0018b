"""The search space, presets and flag validation, without starting Ray."""

import argparse

import optuna
import pytest

from sweeps.parameters import Choice
from sweeps.run import add_sweep_flags, settings_from_args
from sweeps.settings import SettingsError, make_settings
from sweeps.space import SearchSpace, grid_configs, grid_param_space, trial_config
from vaemodels import TrialConfig, arch_keys, key_owner, list_models, takes_key


def parse(*flags: str):
    parser = argparse.ArgumentParser()
    add_sweep_flags(parser)
    return settings_from_args(parser.parse_args(list(flags)))


def test_every_optuna_suggestion_is_a_valid_trial_config():
    settings = make_settings("search", {}, {})
    space = SearchSpace(settings)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_archs = set()
    for _ in range(150):
        trial = study.ask()
        constants = space(trial)
        config = trial_config({**trial.params, **constants})
        assert isinstance(config, TrialConfig)
        arch = config.model.arch
        seen_archs.add(arch)
        for key in arch_keys():  # an architecture's own keys exist only in its trials
            assert (key.name in trial.params) == (key.search is not None and key_owner(key.name) == arch)
        assert ("beta" in trial.params) == takes_key(arch, "beta")  # the methods weight their KL otherwise
        assert config.model.latent_dim in (2, 4, 8, 16, 32) and 1e-4 <= config.train.lr <= 3e-3
        if "beta" in trial.params:
            assert 0.1 <= config.model.beta <= 16
        study.tell(trial, config.model.latent_dim)
    assert seen_archs == set(list_models())


def test_original_grid_enumerates_its_twelve_configurations():
    settings = make_settings("original-grid", {}, {})
    configs = grid_configs(settings)
    assert len(configs) == 12
    keys = {(c.model.arch, c.model.beta, c.model.latent_dim) for c in configs}
    assert keys == {(a, b, d) for a in ("conditional", "branched") for b in (2.0, 4.0, 8.0) for d in (4, 10)}
    for config in configs:
        assert config.model.net == "original" and config.model.recon == "gaussian"
        assert config.train.batch_size == 32 and config.train.lr == 1e-4 and config.train.epochs == 9
        assert config.train.plateau_stop and config.data.dataset == "mnist_5k"
        if config.model.arch == "conditional":
            assert config.model.decoder_conditioning is False
        else:
            assert config.model.classifier_on == "features"


def test_tune_expands_the_same_grid():
    from ray.tune import grid_search
    from ray.tune.search.variant_generator import generate_variants

    settings = make_settings("original-grid", {}, {})
    variants = [trial_config(spec) for _, spec in generate_variants(grid_param_space(settings, grid_search))]
    assert sorted(map(repr, variants)) == sorted(map(repr, grid_configs(settings)))


def test_betas_and_seeds_make_a_grid():
    settings, _ = parse("--archs", "vae", "--betas", "1,4,16", "--seeds", "0,1", "--dataset", "shapes")
    configs = grid_configs(settings)
    assert len(configs) == 3 * 3 * 2  # betas x the quick preset's latent dims (2, 4, 8) x seeds
    assert {c.seed for c in configs} == {0, 1} and {c.data.dataset for c in configs} == {"shapes"}


def test_explicit_flags_override_the_preset():
    settings, options = parse("--preset", "quick", "--epochs", "7", "--latent-dims", "3", "--gpus-per-trial", "0.25")
    assert settings.fixed["epochs"] == 7 and settings.fixed["dataset"] == "mnist_5k"
    assert settings.parameters["latent_dim"] == Choice((3,)) and options.gpus_per_trial == 0.25
    assert make_settings("search", {}, {}).scheduler == "asha"
    assert make_settings("search", {"scheduler": "none"}, {}).scheduler == "none"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--preset", "huge"], "--preset 'huge' is unknown"),
        (["--archs", "vae,gan"], "--archs vae,gan: unknown architecture"),
        (["--beta-range", "0", "4"], "--beta-range 0.0 4.0: needs 0 < LO < HI"),
        (["--beta-range", "4", "2"], "--beta-range 4.0 2.0: needs 0 < LO < HI"),
        (["--latent-dims", ""], "--latent-dims"),
        (["--seeds", "0,1"], "--seeds makes a grid"),
        (["--cpus-per-trial", "0"], "--cpus-per-trial 0.0: must be a finite number > 0"),
        (["--image-size", "48", "--dataset", "shapes"], "image_size=48 is invalid"),
    ],
)
def test_bad_flags_fail_naming_the_flag(flags, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(*flags)


def test_relative_storage_becomes_absolute_and_unwritable_is_refused(tmp_path, monkeypatch):
    from sweeps.run import prepare_storage
    from vaemodels.storage import StorageError

    monkeypatch.chdir(tmp_path)
    settings, options = parse("--storage", "relative/results", "--name", "s1")
    sweep = prepare_storage(settings, options)
    assert sweep.path == str(tmp_path / "relative" / "results" / "s1")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings, options = parse("--storage", str(blocker / "below"))
    with pytest.raises(StorageError, match="not writable"):
        prepare_storage(settings, options)


def test_same_name_with_other_settings_is_refused_then_fresh_moves_it_aside(tmp_path):
    from sweeps.run import prepare_storage

    settings, options = parse("--storage", str(tmp_path), "--name", "s", "--latent-dims", "2")
    prepare_storage(settings, options)
    (tmp_path / "s" / "keep.txt").write_text("finished work")
    other, options = parse("--storage", str(tmp_path), "--name", "s", "--latent-dims", "4")
    with pytest.raises(SettingsError, match=r"parameters.latent_dim.values: stored \[2\], now \[4\].*--name.*--fresh"):
        prepare_storage(other, options)
    assert prepare_storage(settings, options)  # the same settings resume
    _, fresh = parse("--storage", str(tmp_path), "--name", "s", "--latent-dims", "4", "--fresh")
    prepare_storage(other, fresh)
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("s.moved-")]
    assert len(moved) == 1 and (moved[0] / "keep.txt").read_text() == "finished work"
