"""`latentsweep train` end to end: the trial folder it writes, and clear errors for bad flags."""

import json

import pytest

from vaemodels import SCHEMA_VERSION
from vaemodels.checkpoint import list_checkpoints, load_trial
from vaemodels.cli import main

FLAGS = ["--dataset", "shapes", "--image-size", "32", "--n-samples", "400", "--latent-dim", "3", "--batch-size", "64"]


@pytest.mark.slow
def test_train_writes_the_trial_folder(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--arch", "conditional", *FLAGS, "--epochs", "3", "--beta", "4", "--out", str(out)]) == 0
    checkpoints = list_checkpoints(out)
    assert 1 <= len(checkpoints) <= 2  # best and last are kept
    assert checkpoints[-1].name == "checkpoint_000002"
    for name in ("config.json", "model.pt", "optimizer.pt", "history.json", "latents.parquet"):
        assert (checkpoints[-1] / name).exists(), name
    config = json.loads((checkpoints[-1] / "config.json").read_text())
    assert config["arch"] == "conditional" and config["beta"] == 4.0 and config["schema_version"] == SCHEMA_VERSION
    assert len(json.loads((checkpoints[-1] / "history.json").read_text())) == 3
    assert load_trial(out).config.model.latent_dim == 3
    assert f"latentsweep explore {out}" in capsys.readouterr().out
    assert main(["train", *FLAGS, "--epochs", "1", "--out", str(out)]) == 2  # never overwrites a trial folder


def test_bad_config_flag_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--arch", "vae", "--classifier-weight", "2", "--out", str(tmp_path / "x")]) == 2
    assert "'classifier_weight' applies only to arch='branched'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--latent-dim", "x", "--out", str(tmp_path / "x")])
