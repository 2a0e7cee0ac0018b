"""Datasets read from one .npz file: dSprites from tiny files in its real format, and factor_npz."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers.datasets import tiny_dsprites, write_dsprites
from tests.helpers.trials import train_tiny_trial
from vaemodels import encode, fit
from vaemodels.config import TrialConfig
from vaemodels.dataset_registry import DATASETS, FACTOR_NPZ_ENV, factor_npz_spec, register_factor_npz
from vaemodels.datasets import DatasetUnavailable, load_dataset, load_samples
from vaemodels.errors import ConfigError
from vaemodels.npz_files import DSPRITES_FILE, DSPRITES_URL
from vaemodels.oracles import load_oracle
from vaemodels.score_columns import trial_scores
from vaemodels.storage import resolve
from vaemodels.table_rebuild import rebuild_trials_table


def config(dataset: str, **keys) -> TrialConfig:
    return TrialConfig.from_dict({"dataset": dataset, **keys})


# ---- dsprites


def test_dsprites_loads_uint8_pixels_the_shape_label_and_five_factors(tmp_path):
    arrays = write_dsprites(tmp_path / "dsprites")
    data = load_dataset(config("dsprites", data_dir=str(tmp_path)))
    assert data.images.shape == (144, 1, 64, 64) and data.images.dtype == torch.uint8  # 1 byte a pixel in memory
    assert torch.equal(data.batch(torch.arange(144)), torch.from_numpy(arrays["imgs"][:, None].astype(np.float32)))
    assert np.array_equal(data.factors, arrays["latents_classes"][:, 1:]) and data.factors.dtype == np.int16
    assert torch.equal(data.labels, torch.from_numpy(arrays["latents_classes"][:, 1]))
    assert np.array_equal(data.sample_ids, np.arange(144)) and len(data.val_idx) == round(0.2 * 144)
    assert DATASETS["dsprites"].factor_names == DATASETS["shapes"].factor_names
    assert DATASETS["dsprites"].factor_sizes == DATASETS["shapes"].factor_sizes


def test_dsprites_subset_is_drawn_from_the_data_seed_and_keeps_ids_into_the_full_set(tmp_path):
    arrays = write_dsprites(tmp_path / "dsprites")
    part = load_dataset(config("dsprites", data_dir=str(tmp_path), n_samples=40, data_seed=3))
    assert len(part.images) == 40 and len(np.unique(part.sample_ids)) == 40
    assert np.array_equal(part.images[:, 0].numpy(), arrays["imgs"][part.sample_ids] * 255)
    assert np.array_equal(part.factors, arrays["latents_classes"][part.sample_ids, 1:])
    again = load_dataset(config("dsprites", data_dir=str(tmp_path), n_samples=40, data_seed=3))
    other = load_dataset(config("dsprites", data_dir=str(tmp_path), n_samples=40, data_seed=4))
    assert np.array_equal(part.sample_ids, again.sample_ids) and torch.equal(part.val_idx, again.val_idx)
    assert not np.array_equal(part.sample_ids, other.sample_ids)


def test_dsprites_samples_reload_by_id_as_the_loaded_batch(tmp_path):
    write_dsprites(tmp_path)  # data_dir itself holding the file is found too
    cfg = config("dsprites", data_dir=str(tmp_path), n_samples=50, data_seed=1)
    data = load_dataset(cfg)
    positions = data.val_idx[:6]
    samples = load_samples(cfg, data.sample_ids[positions.numpy()])
    assert samples.dtype == np.float32 and np.array_equal(samples, data.batch(positions).numpy())
    with pytest.raises(ValueError, match=r"sample ids must lie in 0\.\.143"):
        load_samples(cfg, np.array([144]))


def test_missing_dsprites_names_the_expected_path_and_download_and_fetches_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlretrieve", lambda *args: pytest.fail("fetched without --download"))
    for load in (lambda cfg: load_dataset(cfg), lambda cfg: load_samples(cfg, np.array([0]))):
        with pytest.raises(DatasetUnavailable) as error:
            load(config("dsprites", data_dir=str(tmp_path)))
        message = str(error.value)
        assert str(tmp_path / "dsprites") in message and DSPRITES_FILE in message and "--download" in message


def test_download_fetches_the_public_file_into_data_dir_dsprites(tmp_path, monkeypatch):
    calls = []

    def fake_urlretrieve(url: str, filename: str) -> None:  # stands in for the network
        calls.append(url)
        with open(filename, "wb") as file:  # a file object: savez would add .npz to a name without it
            np.savez_compressed(file, **tiny_dsprites())

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_urlretrieve)
    data = load_dataset(config("dsprites", data_dir=str(tmp_path)), download=True)
    assert calls == [DSPRITES_URL] and len(data.images) == 144
    assert sorted(p.name for p in (tmp_path / "dsprites").iterdir()) == [DSPRITES_FILE]  # no partial file left
    load_dataset(config("dsprites", data_dir=str(tmp_path)), download=True)
    assert calls == [DSPRITES_URL]  # present: not fetched again


def test_a_damaged_dsprites_file_names_itself_and_the_remedy(tmp_path):
    (tmp_path / DSPRITES_FILE).write_bytes(b"not a zip file")
    with pytest.raises(DatasetUnavailable, match="not a valid dataset file") as error:
        load_dataset(config("dsprites", data_dir=str(tmp_path)))
    assert str(tmp_path / DSPRITES_FILE) in str(error.value) and "--download" in str(error.value)


def test_dsprites_accepts_only_its_own_size():
    with pytest.raises(ConfigError, match="image_size"):
        config("dsprites", image_size=32)


# ---- factor_npz


FACTOR_GRID = (3, 4, 5)  # 60 images


def write_factor_npz(path: Path, channels_last: bool = True, **extra: np.ndarray) -> dict[str, np.ndarray]:
    """A small Shapes3D-like file: colour images (N, H, W, 3) uint8 whose first pixel holds the row's index."""
    factors = np.array(list(itertools.product(*(range(size) for size in FACTOR_GRID))), dtype=np.int64)  # (60, 3)
    images = np.random.default_rng(1).integers(0, 256, (len(factors), 16, 16, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(len(factors))
    arrays = {"images": images if channels_last else images[..., 0], "factors": factors, **extra}
    np.savez_compressed(path, **arrays)
    return arrays


@pytest.fixture
def registered(tmp_path):
    """Register factor_npz datasets for one test and remove them after it, as DATASETS is global."""
    names = []

    def register(name: str, path: Path, **keys):
        spec = register_factor_npz(name, path, **keys)
        names.append(name)
        return spec

    yield register
    for name in names:
        del DATASETS[name]


def test_register_factor_npz_reads_the_files_metadata_into_its_spec(tmp_path, registered):
    path = tmp_path / "tiny3d.npz"
    write_factor_npz(path, factor_names=np.array(["hue", "size", "angle"]))
    spec = registered("tiny3d", path)
    assert (spec.channels, spec.image_sizes, spec.num_classes) == (3, (16,), 3)
    assert spec.factor_names == ("hue", "size", "angle") and spec.factor_sizes == FACTOR_GRID
    assert spec.label_description == "hue" and spec.data_file == str(path) and spec.reloadable
    assert DATASETS["tiny3d"] is spec and config("tiny3d").channels == 3


def test_factor_npz_loads_channels_last_uint8_as_it_is_with_factors_and_default_labels(tmp_path, registered):
    path = tmp_path / "tiny3d.npz"
    arrays = write_factor_npz(path)
    registered("tiny3d", path)
    data = load_dataset(config("tiny3d"))
    assert data.images.shape == (60, 3, 16, 16) and data.images.dtype == torch.uint8
    expected = torch.from_numpy(arrays["images"].transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert torch.equal(data.batch(torch.arange(60)), expected)
    assert np.array_equal(data.factors, arrays["factors"]) and data.factors.dtype == np.int16
    assert torch.equal(data.labels, torch.from_numpy(arrays["factors"][:, 0]))
    assert DATASETS["tiny3d"].factor_names == ("factor_0", "factor_1", "factor_2")


def test_factor_npz_keeps_float_grey_images_and_reads_its_own_labels(tmp_path, registered):
    path = tmp_path / "grey.npz"
    labels = np.arange(60) % 7
    arrays = write_factor_npz(path, channels_last=False, labels=labels)
    np.savez_compressed(path, **{**arrays, "images": arrays["images"].astype(np.float64) / 255})
    spec = registered("grey", path, label_description="digit")
    data = load_dataset(config("grey"))
    assert (spec.channels, spec.num_classes, spec.label_description) == (1, 7, "digit")
    assert data.images.shape == (60, 1, 16, 16) and data.images.dtype == torch.float32
    assert torch.equal(data.labels, torch.from_numpy(labels))


def test_factor_npz_subsets_from_the_data_seed_and_reloads_samples_by_id(tmp_path, registered):
    path = tmp_path / "tiny3d.npz"
    arrays = write_factor_npz(path)
    registered("tiny3d", path)
    cfg = config("tiny3d", n_samples=25, data_seed=2)
    data = load_dataset(cfg)
    assert len(data.images) == 25 and np.array_equal(data.sample_ids, load_dataset(cfg).sample_ids)
    assert not np.array_equal(data.sample_ids, load_dataset(config("tiny3d", n_samples=25, data_seed=3)).sample_ids)
    assert np.array_equal(data.images[:, 0, 0, 0].numpy(), data.sample_ids)  # each row is the file's row of its id
    assert np.array_equal(data.factors, arrays["factors"][data.sample_ids])
    positions = data.val_idx[:4]
    assert np.array_equal(load_samples(cfg, data.sample_ids[positions.numpy()]), data.batch(positions).numpy())


def test_a_factor_npz_dataset_trains_and_its_latents_carry_its_factors(tmp_path, registered):
    path = tmp_path / "tiny3d.npz"
    write_factor_npz(path, factor_names=np.array(["hue", "size", "angle"]))
    registered("tiny3d", path)
    cfg = config("tiny3d", arch="branched", latent_dim=2, batch_size=16, epochs=1)
    data = load_dataset(cfg)
    state = fit(cfg, data, device="cpu")
    assert len(state.history) == 1 and np.isfinite(state.history[0]["loss"])
    frame = encode(state.model, data)
    assert np.array_equal(frame[["hue", "size", "angle"]].to_numpy(), data.factors[data.val_idx.numpy()])


@pytest.mark.parametrize(
    "extra, problem",
    [
        ({"factor_names": np.array(["hue", "label", "angle"])}, "factor_names"),
        ({"factor_names": np.array(["hue", "size"])}, "factor_names"),
        ({"factors": np.zeros((59, 3), np.int64)}, "factors"),
    ],
)
def test_factor_npz_spec_rejects_a_file_that_would_fail_later(tmp_path, extra, problem):
    path = tmp_path / "bad.npz"
    write_factor_npz(path, **extra)
    with pytest.raises(ValueError, match=problem):
        factor_npz_spec("bad", path)
    assert "bad" not in DATASETS


@pytest.mark.parametrize("kept", ["images", "factors"])
def test_factor_npz_spec_names_the_array_a_file_lacks(tmp_path, kept):
    path = tmp_path / "half.npz"
    np.savez_compressed(path, **{kept: np.zeros((10, 8, 8), np.uint8) if kept == "images" else np.zeros((10, 2), int)})
    lacking = "factors" if kept == "images" else "images"
    with pytest.raises(ValueError, match=f"holds no '{lacking}' array"):
        factor_npz_spec("half", path)


def test_a_factor_npz_replaced_since_registration_is_refused_by_name(tmp_path, registered):
    path = tmp_path / "tiny3d.npz"
    write_factor_npz(path)
    registered("tiny3d", path)
    write_factor_npz(path, channels_last=False)  # now grey: the model built from the spec would expect 3 channels
    with pytest.raises(DatasetUnavailable, match="no longer matches dataset 'tiny3d'"):
        load_dataset(config("tiny3d"))
    path.unlink()
    with pytest.raises(DatasetUnavailable, match=str(path)):
        load_dataset(config("tiny3d"))


def test_the_environment_variable_registers_factor_npz_files_when_the_config_is_imported(tmp_path):
    write_factor_npz(tmp_path / "tiny3d.npz")
    code = (
        "import vaemodels.config; from vaemodels.dataset_registry import DATASETS, UNAVAILABLE; "
        "spec = DATASETS['tiny3d']; print(spec.channels, spec.factor_sizes); print(UNAVAILABLE['gone'])"
    )
    env = {**os.environ, FACTOR_NPZ_ENV: f"tiny3d={tmp_path / 'tiny3d.npz'}{os.pathsep}gone={tmp_path / 'no.npz'}"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1])
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "3 (3, 4, 5)"
    # a missing file fails only a command that asks for its dataset, with this line; the others say nothing
    assert result.stdout.split("\n")[1].startswith(f"{FACTOR_NPZ_ENV} entry 'gone=") and not result.stderr


# ---- factor_npz oracles: a file of every factor combination can be sampled afresh


def train_on(dataset: str, folder: Path) -> dict:
    """A tiny model trained one epoch on the whole file, as a sweep trial leaves it; its trials.parquet row."""
    train_tiny_trial(folder / "trial0", dataset=dataset, image_size=16, n_samples=None, epochs=1, batch_size=16)
    return rebuild_trials_table(resolve(folder)).iloc[0].to_dict()


def test_a_full_factorial_factor_npz_gets_an_oracle_and_its_beta_vae_and_factor_vae_scores(tmp_path, registered):
    path = tmp_path / "grid3d.npz"
    arrays = write_factor_npz(path)  # all 3 x 4 x 5 combinations, once each
    spec = registered("grid3d", path)
    assert spec.has_oracle and spec.no_oracle_reason is None
    oracle = load_oracle(config("grid3d"))
    rows = np.array([0, 17, 59])  # an observation is the file's own image of those factors
    expected = arrays["images"][rows].transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    np.testing.assert_array_equal(oracle.observations(arrays["factors"][rows]), expected)
    row = train_on("grid3d", tmp_path / "sweep")
    scores, failures = trial_scores(resolve(tmp_path / "sweep"), row, "quick", ("beta_vae", "factor_vae"))
    assert failures == [] and all(0.0 <= scores[name] <= 1.0 for name in ("beta_vae", "factor_vae"))


def test_a_factor_npz_that_lacks_combinations_leaves_them_empty_with_one_line_saying_why(tmp_path, registered, cli):
    arrays = write_factor_npz(tmp_path / "grid3d.npz")
    path = tmp_path / "part3d.npz"
    np.savez_compressed(path, images=arrays["images"][:50], factors=arrays["factors"][:50])  # same grid, 10 gone
    spec = registered("part3d", path)
    reason = "dataset 'part3d' holds 50 of its 60 factor combinations, so no fresh samples can be drawn"
    assert not spec.has_oracle and spec.no_oracle_reason == reason and spec.factor_sizes == FACTOR_GRID
    train_on("part3d", tmp_path / "sweep")
    done = cli("metrics", str(tmp_path / "sweep"), "--only", "beta_vae,factor_vae,sap")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(f"beta_vae, factor_vae: {reason}") == 1 and "Traceback" not in done.stderr
    row = pd.read_parquet(tmp_path / "sweep" / "trials.parquet").iloc[0]
    assert np.isnan(row["beta_vae"]) and np.isnan(row["factor_vae"]) and 0.0 <= row["sap"] <= 1.0


def test_factor_npz_spec_refuses_factors_that_are_not_grid_indices(tmp_path):
    path = tmp_path / "bad.npz"
    write_factor_npz(path, factors=np.full((60, 3), -1, np.int64))
    with pytest.raises(ValueError, match="factors hold -1: value indices start at 0"):
        factor_npz_spec("bad", path)


def test_factor_npz_of_binary_uint8_images_reads_them_as_black_and_white_with_one_line(tmp_path, registered, capsys):
    path = tmp_path / "masks.npz"
    arrays = write_factor_npz(path, channels_last=False)
    np.savez_compressed(path, **{**arrays, "images": (arrays["images"] > 127).astype(np.uint8)})  # 0 and 1
    registered("masks", path)
    data = load_dataset(config("masks"))
    assert set(np.unique(data.images.numpy())) == {0, 255}
    assert capsys.readouterr().err == f"warning: {path}: its uint8 images hold only 0 and 1, read as 0 and 255\n"


def test_a_dsprites_file_already_in_0_to_255_is_not_scaled_again(tmp_path):
    arrays = tiny_dsprites()
    (tmp_path / "dsprites").mkdir()
    np.savez_compressed(tmp_path / "dsprites" / DSPRITES_FILE, **{**arrays, "imgs": arrays["imgs"] * 255})
    data = load_dataset(config("dsprites", data_dir=str(tmp_path)))
    assert torch.equal(data.batch(torch.arange(144)), torch.from_numpy(arrays["imgs"][:, None].astype(np.float32)))
