"""The plain training loop, the trial folder it writes and the loaders that read it back."""

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from vaemodels import SCHEMA_VERSION, TrialConfig
from vaemodels.checkpoint import (
    checkpoint_name,
    list_checkpoints,
    load_trial,
    load_trials,
    restore_state,
    write_epoch_checkpoint,
)
from vaemodels.datasets import load_dataset
from vaemodels.embeddings import encode, latents_metadata, mu_columns
from vaemodels.training import PlateauRule, TrainingDiverged, TrainState, fit, new_state

TINY = {"dataset": "shapes", "image_size": 32, "n_samples": 800, "latent_dim": 4, "batch_size": 64, "epochs": 4}
TIMING = {"epoch_seconds", "samples_per_second"}


def tiny(**keys) -> TrialConfig:
    return TrialConfig.from_dict({**TINY, **keys})


def train_into(folder, config: TrialConfig):
    data = load_dataset(config)
    writer = [lambda event: write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)]
    state = fit(config, data, callbacks=writer, device="cpu")  # CPU also where CUDA exists: outputs compared on CPU
    return state, data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trial")
    config = tiny(arch="branched")
    state, data = train_into(folder, config)
    return folder, config, state, data


def test_validation_loss_falls(trained):
    _, _, state, _ = trained
    losses = [h["loss"] for h in state.history]
    assert losses[-1] < losses[0]


def test_every_contract_metric_is_reported(trained):
    _, config, state, _ = trained
    metrics = state.history[-1]
    for split in ("train", "val"):
        for term in ("recon", "kl", "classifier", "total", "accuracy"):
            assert math.isfinite(metrics[f"{split}_{term}"])
    assert len(metrics["val_kl_per_dim"]) == config.model.latent_dim
    assert metrics["loss"] == pytest.approx(metrics["val_recon"] + metrics["val_kl"])
    assert metrics["epoch"] == 4 and metrics["samples_per_second"] > 0
    assert metrics["active_units"] >= 0 and 0 <= metrics["probe_accuracy"] <= 1  # latents were written this epoch


def test_same_seed_same_metrics():
    config = tiny(epochs=2)
    data = load_dataset(config)
    first, second = fit(config, data).history, fit(config, data).history
    strip = [{k: v for k, v in h.items() if k not in TIMING} for h in (first + second)]
    assert strip[:2] == strip[2:]
    other = fit(config.replace(seed=1), load_dataset(config.replace(seed=1))).history
    assert other[-1]["loss"] != first[-1]["loss"]


def test_checkpoint_round_trip_gives_identical_outputs(trained):
    folder, _, state, data = trained
    loaded = load_trial(folder)
    x, labels = data.images[:8], data.labels[:8]
    state.model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model.encode(x, labels)[0], state.model.encode(x, labels)[0])
        z = torch.randn(3, 4)
        assert torch.equal(loaded.model.decode(z), state.model.decode(z))


def test_resume_continues_where_it_stopped(tmp_path):
    config = tiny(epochs=2)
    data = load_dataset(config)
    full = fit(config.replace(epochs=3), data).history
    train_into(tmp_path, config)
    restored_config, state = restore_state(list_checkpoints(tmp_path)[-1])
    resumed = fit(restored_config.replace(epochs=3), data, state=state).history
    assert [h["epoch"] for h in resumed] == [1, 2, 3]
    assert resumed[2]["loss"] == pytest.approx(full[2]["loss"], rel=0.05)


def test_latents_parquet_follows_the_contract(trained):
    folder, config, _, data = trained
    path = load_trial(folder).latents_path
    table = pq.read_table(path)
    d = config.model.latent_dim
    expected = ["sample", "label", "shape", "scale", "orientation", "pos_x", "pos_y"]
    expected += [*mu_columns(d), *(f"logvar_{i}" for i in range(d)), "recon_error"]
    assert table.column_names == expected
    types = {field.name: str(field.type) for field in table.schema}
    assert types["sample"] == "int64" and types["label"] == "int16" and types["pos_x"] == "int16"
    assert all(types[c] == "float" for c in [*mu_columns(d), "recon_error"])
    assert table.num_rows == len(data.val_idx)  # 160 < embed_samples
    meta = latents_metadata(path)
    assert meta["config"] == config.to_dict() and meta["schema_version"] == SCHEMA_VERSION and 1 <= meta["epoch"] <= 4
    frame = table.to_pandas()
    assert set(frame["sample"]) <= set(data.sample_ids.tolist())
    assert (frame["label"] == frame["shape"]).all()


def test_reloaded_model_reproduces_the_parquet_encodings(trained):
    folder, _, _, data = trained
    loaded = load_trial(folder)
    stored = loaded.latents()
    fresh = encode(loaded.model, data)
    np.testing.assert_allclose(fresh[mu_columns(4)].to_numpy(), stored[mu_columns(4)].to_numpy(), atol=1e-5)


def test_embed_samples_bounds_the_rows():
    config = tiny(epochs=1, embed_samples=50)
    data = load_dataset(config)
    state = fit(config, data)
    assert len(encode(state.model, data)) == 50


def test_only_best_and_last_epochs_carry_latents(trained):
    folder, _, state, _ = trained
    losses = [h["loss"] for h in state.history]
    for checkpoint in list_checkpoints(folder):
        epoch = json.loads((checkpoint / "history.json").read_text())[-1]["epoch"]
        is_best = losses[epoch - 1] == min(losses[:epoch])
        assert (checkpoint / "latents.parquet").exists() == (is_best or epoch == len(losses))


def test_load_trials_filters_by_config(tmp_path):
    for latent_dim in (2, 3):
        train_into(tmp_path / f"d{latent_dim}", tiny(epochs=1, latent_dim=latent_dim))
    assert len(load_trials(tmp_path)) == 2
    assert [t.config.model.latent_dim for t in load_trials(tmp_path, where={"latent_dim": 3})] == [3]
    assert load_trials(tmp_path, where={"latent_dim": 9}) == []


def test_huge_learning_rate_raises_training_diverged():
    config = tiny(lr=1e6, epochs=3, recon="gaussian")
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch \d: \w+ = (nan|inf)"):
        fit(config, load_dataset(config))


def test_plateau_rule_cuts_the_learning_rate_then_stops():
    config = tiny(arch="conditional", plateau_stop=True)
    state: TrainState = new_state(config, torch.device("cpu"))
    rule = PlateauRule(config, state)
    assert rule.monitor == "val_kl"
    for epoch in range(3):
        state.history.append({"val_kl": 5.0 - epoch, "loss": 1.0})
        rule.update()
    assert state.lr_reductions == 0
    for flat_epochs in range(1, 14):
        state.history.append({"val_kl": 2.0, "loss": 1.0})
        rule.update()
        # the last 4 monitored values are flat from the 4th flat epoch on (3 -> 2 is a real change)
        assert state.lr_reductions == max(0, flat_epochs - 3)
        assert rule.stopped == (flat_epochs == 13)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(config.train.lr * 0.2**10)
