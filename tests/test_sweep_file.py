"""Sweep files: the schema, the presets as files, flags over a file, the resolved sweep.yaml, and clear errors."""

import argparse
import json
import textwrap

import optuna
import pytest

from sweeps import sweep_file
from sweeps.parameters import Choice, Range
from sweeps.run import add_sweep_flags, prepare_storage, settings_from_args
from sweeps.settings import SettingsError, SweepSettings, make_settings
from sweeps.space import SearchSpace, grid_configs, trial_config

STUDY = """\
name: study
description: narrower ranges for the branched VAE
search: random
num_samples: 5
seed: 3
metric: {name: loss, goal: minimize}
early_terminate: {type: asha, grace_period: 1, reduction_factor: 3}
parameters:
  arch: {values: [vae, branched]}
  beta: {min: 1, max: 4, distribution: log_uniform}
  latent_dim: {values: [4, 6]}
  batch_size: {min: 32, max: 96}
  branched:
    classifier_weight: {min: 0.5, max: 2.0, distribution: log_uniform}
fixed:
  dataset: shapes
  image_size: 32
  epochs: 3
  lr: 1e-3
"""


def write(tmp_path, text: str, name: str = "sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def parse_flags(*flags: str):
    parser = argparse.ArgumentParser()
    add_sweep_flags(parser)
    return settings_from_args(parser.parse_args(list(flags)))


def test_a_file_sets_every_part_of_the_sweep(tmp_path):
    settings = make_settings(config=write(tmp_path, STUDY))
    assert (settings.name, settings.search, settings.num_samples, settings.seed) == ("study", "random", 5, 3)
    assert (settings.scheduler, settings.grace_period, settings.reduction_factor) == ("asha", 1, 3)
    assert settings.archs == ("vae", "branched") and settings.description.startswith("narrower")
    assert settings.fixed == {"dataset": "shapes", "image_size": 32, "epochs": 3, "lr": 1e-3}  # '1e-4' is a number
    parameters = settings.parameters
    assert parameters["beta"] == Range(1.0, 4.0, "log_uniform") and parameters["latent_dim"] == Choice((4, 6))
    assert parameters["batch_size"] == Range(32, 96, "int_uniform")  # integer key: int_uniform by default
    assert parameters["classifier_weight"] == Range(0.5, 2.0, "log_uniform")  # the file's, over the registry's
    assert parameters["classifier_on"] == Choice(("features", "z"))  # the registry's: the file left it alone
    assert "lr" not in parameters and "decoder_conditioning" not in parameters  # fixed; an arch not swept


def test_the_file_narrows_the_search_and_conditional_keys_exist_only_with_their_arch(tmp_path):
    space = SearchSpace(make_settings(config=write(tmp_path, STUDY)))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        constants = space(trial)
        config = trial_config({**trial.params, **constants})
        assert 1 <= config.model.beta <= 4 and config.model.latent_dim in (4, 6)
        assert 32 <= config.train.batch_size <= 96 and config.train.lr == 1e-3 and config.train.epochs == 3
        assert ("classifier_weight" in trial.params) == (config.model.arch == "branched")
        if config.model.arch == "branched":
            assert 0.5 <= config.model.classifier_weight <= 2.0
        study.tell(trial, 0.0)


def test_every_preset_is_a_file_the_presets_are_read_from():
    assert sweep_file.preset_names() == ["disentanglement-study", "original-grid", "quick", "search"]
    for name in sweep_file.preset_names():
        from_file = make_settings(config=sweep_file.PRESETS_DIR / f"{name}.yaml")
        assert from_file.to_document() == make_settings(name).to_document()
    assert make_settings("search").scheduler == "asha" and len(grid_configs(make_settings("original-grid"))) == 12


def test_a_preset_file_edited_changes_the_preset(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_file, "PRESETS_DIR", tmp_path)
    write(tmp_path, "num_samples: 2\nfixed: {dataset: shapes}\n", "tiny.yaml")
    assert sweep_file.preset_names() == ["tiny"]
    assert make_settings("tiny").num_samples == 2 and make_settings("tiny").name == "tiny"


def test_flags_override_the_file(tmp_path):
    path = write(tmp_path, STUDY)
    settings, _ = parse_flags("--config", str(path), "--num-samples", "2", "--latent-dims", "8", "--lr", "2e-3")
    assert settings.num_samples == 2 and settings.parameters["latent_dim"] == Choice((8,))
    assert settings.fixed["lr"] == 2e-3 and settings.parameters["beta"] == Range(1.0, 4.0, "log_uniform")
    searched, _ = parse_flags("--config", str(path), "--search", "nsga2", "--scheduler", "none")
    assert searched.search == "nsga2" and searched.scheduler == "none"
    with pytest.raises(SettingsError, match=r"sweep.yaml:12: parameters.batch_size: a grid \(--betas 1.0,2.0\) needs"):
        parse_flags("--config", str(path), "--betas", "1,2")  # --betas makes a grid, which cannot take a range


def test_the_resolved_file_round_trips_and_is_written_into_the_sweep_folder(tmp_path):
    settings, options = parse_flags("--config", str(write(tmp_path, STUDY)), "--storage", str(tmp_path / "out"))
    sweep = prepare_storage(settings, options)
    stored = tmp_path / "out" / "study" / "sweep.yaml"
    assert stored.read_text().startswith("# This sweep's resolved settings")
    again = make_settings(config=stored)
    assert again.to_document() == settings.to_document()
    assert SweepSettings.from_json(json.loads(json.dumps(settings.to_json()))).to_document() == settings.to_document()
    _, same = parse_flags("--config", str(stored), "--storage", str(tmp_path / "out"))
    assert prepare_storage(again, same).uri == sweep.uri  # the resolved file resumes the sweep


def test_resuming_with_a_changed_file_names_each_difference(tmp_path):
    path = write(tmp_path, STUDY)
    settings, options = parse_flags("--config", str(path), "--storage", str(tmp_path / "out"))
    prepare_storage(settings, options)
    path.write_text(STUDY.replace("max: 4,", "max: 8,").replace("num_samples: 5", "num_samples: 9"))
    changed, _ = parse_flags("--config", str(path), "--storage", str(tmp_path / "out"))
    with pytest.raises(SettingsError) as refused:
        prepare_storage(changed, options)
    message = str(refused.value)
    assert "num_samples: stored 5, now 9" in message and "parameters.beta.max: stored 4.0, now 8.0" in message
    assert "--fresh" in message


def test_a_sweep_stored_by_an_older_version_resumes_from_its_sweep_json(tmp_path):
    """sweep.json as the versions before sweep files wrote it: the same flags resume, other flags are refused."""
    old = {"preset": "quick", "name": "old", "archs": ["vae"], "beta_range": [0.5, 8.0], "betas": [],
           "latent_dims": [2, 3], "seeds": [], "lr_range": [1e-4, 3e-3], "num_samples": 4, "scheduler": "none",
           "metric": "loss", "mode": "min", "metrics": [], "modes": [], "seed": 0,
           "fixed": {"dataset": "mnist_5k", "epochs": 4, "batch_size": 128, "embed_samples": 1000}}  # fmt: skip
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "sweep.json").write_text(json.dumps(old))
    flags = [
        "--name",
        "old",
        "--archs",
        "vae",
        "--latent-dims",
        "2,3",
        "--num-samples",
        "4",
        "--storage",
        str(tmp_path),
    ]
    settings, options = parse_flags(*flags)
    assert prepare_storage(settings, options)
    other, _ = parse_flags(*flags, "--num-samples", "5")
    with pytest.raises(SettingsError, match="num_samples: stored 4, now 5"):
        prepare_storage(other, options)


BAD_FILES = [
    ("serach: tpe\n", "1: serach: unknown key; the keys are name"),
    ("method: bayes\n", "1: method: write `search: tpe|random|nsga2|grid`"),
    ("search: bayes\n", "1: search: 'bayes': choose from tpe, random, nsga2, grid"),
    ("num_samples: 0\n", "1: num_samples: 0: must be >= 1"),
    ("parameters:\n  beta: {min: 4, max: 2}\n", "2: parameters.beta: needs min < max (got 4.0 and 2.0)"),
    ("parameters:\n  beta: {min: 0, max: 2, distribution: log_uniform}\n", "2: parameters.beta: log_uniform needs 0"),
    ("parameters:\n  beta: {min: 1, max: 2, distribution: q_uniform}\n", "2: parameters.beta: distribution 'q_"),
    ("parameters:\n  latent_dim: {min: 2, max: 8, distribution: log_uniform}\n", "2: parameters.latent_dim: an int"),
    ("parameters:\n  beta: {value: 4}\n", "2: parameters.beta: one value for every trial goes under fixed"),
    ("parameters:\n  latent_dim: {values: [0, 4]}\n", "2: parameters.latent_dim: latent_dim=0 is invalid"),
    ("parameters:\n  classifier_weight: {values: [1]}\n", "2: parameters.classifier_weight: classifier_weight belongs"),
    ("parameters:\n  vae:\n    classifier_on: {values: [z]}\n", "3: parameters.vae.classifier_on: classifier_on bel"),
    ("parameters:\n  epochs: {values: [2, 4]}\n", "2: parameters.epochs: one value for the whole sweep: put epochs"),
    (
        "parameters:\n  arch: {values: [vae]}\n  branched:\n    classifier_on: {values: [z]}\n",
        "4: parameters.branched.classifier_on applies only to arch=branched",
    ),
    ("search: grid\nparameters:\n  beta: {min: 1, max: 4}\n", "3: parameters.beta: a grid ("),
    ("search: grid\nparameters:\n  beta: {min: 1, max: 4}\n", "needs values: [...], not a range"),
    ("search: grid\nnum_samples: 4\nparameters:\n  beta: {values: [1]}\n", "2: num_samples: a grid"),
    ("search: grid\n", "x.yaml:1: search: a grid needs betas: --betas 1,4,16"),
    ("fixed:\n  learning_rate: 0.1\n", "2: fixed.learning_rate: unknown config key"),
    ("fixed:\n  lr: fast\n", "2: fixed.lr: 'fast': not a number"),
    ("metric: {name: loss, goal: lowest}\n", "1: metric: goal 'lowest': choose minimize or maximize"),
    ("early_terminate: {type: hyperband}\n", "1: early_terminate: type 'hyperband': only asha"),
    ("num_samples: 2\nnum_samples: 3\n", "2: num_samples is given twice (first on line 1)"),
    ("parameters: [beta\n", "x.yaml:2: not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_file_is_refused_naming_the_line_and_the_key(tmp_path, text, message):
    with pytest.raises(SettingsError) as refused:
        make_settings(config=write(tmp_path, text, "x.yaml"))
    assert message in str(refused.value)
    assert str(refused.value).startswith(str(tmp_path / "x.yaml"))


def test_the_cli_prints_one_line_for_a_bad_file_and_refuses_a_preset_with_a_file(tmp_path, capsys):
    from vaemodels.cli import main

    path = write(tmp_path, "parameters:\n  beta: {min: 4, max: 2}\n", "bad.yaml")
    assert main(["sweep", "--config", str(path), "--storage", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error == f"latentsweep sweep: {path}:2: parameters.beta: needs min < max (got 4.0 and 2.0)\n"
    assert main(["sweep", "--config", str(tmp_path / "missing.yaml"), "--storage", str(tmp_path)]) == 2
    assert "missing.yaml: cannot read it" in capsys.readouterr().err
    assert main(["sweep", "--config", str(path), "--preset", "quick", "--storage", str(tmp_path)]) == 2
    assert "give one" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # nothing written before the settings were valid


@pytest.mark.parametrize(
    ("search", "sampler"), [("tpe", "TPESampler"), ("random", "RandomSampler"), ("nsga2", "NSGAIISampler")]
)
def test_each_search_is_its_optuna_sampler_seeded(tmp_path, search, sampler):
    from sweeps.tuner import _sampler

    settings = make_settings(config=write(tmp_path, f"search: {search}\nseed: 7\n"))
    assert type(_sampler(settings)).__name__ == sampler

    def draws() -> list[float]:
        study = optuna.create_study(sampler=_sampler(settings))
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=4)
        return [trial.params["x"] for trial in study.trials]

    assert draws() == draws()  # seeded by the file's seed


def test_the_readmes_example_file_is_the_shipped_one_and_its_error_line_is_what_the_cli_prints(
    tmp_path, capsys, monkeypatch
):
    from pathlib import Path

    from vaemodels.cli import main

    repo = Path(__file__).resolve().parent.parent
    readme, example = (repo / "README.md").read_text(), repo / "examples" / "branched.yaml"
    start = readme.index("# examples/branched.yaml\n")
    assert readme[start : readme.index("```", start)] == example.read_text()
    settings = make_settings(config=example)
    assert settings.name == "branched-study" and settings.scheduler == "asha" and settings.archs == ("vae", "branched")
    swapped = tmp_path / "examples" / "branched.yaml"
    swapped.parent.mkdir()
    swapped.write_text(example.read_text().replace("min: 0.5, max: 8,", "min: 8, max: 0.5,"))
    shown = readme[readme.index("`latentsweep sweep: examples/branched.yaml:") + 1 :].split("`")[0]
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--config", "examples/branched.yaml", "--storage", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == shown


def test_a_list_of_metrics_is_a_multi_objective_search_and_mig_needs_factors(tmp_path):
    both = "metric:\n  - {name: loss, goal: minimize}\n  - {name: mig, goal: maximize}\n"
    settings = make_settings(config=write(tmp_path, both + "fixed: {dataset: shapes}\n"))
    assert settings.objectives == [("loss", "min"), ("mig", "max")]
    resolved = sweep_file.render(settings.to_document())
    assert "metric: [{name: loss, goal: minimize}, {name: mig, goal: maximize}]" in resolved
    assert make_settings(config=write(tmp_path, resolved)).objectives == settings.objectives
    with pytest.raises(SettingsError, match="has no ground-truth factors"):
        make_settings(config=write(tmp_path, both + "fixed: {dataset: mnist_5k}\n"))
