"""Datasets read from one .npz file: dSprites from tiny files in its real format, and factor_npz."""

from __future__ import annotations

import itertools
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from vaemodels.config import TrialConfig
from vaemodels.dataset_registry import DATASETS
from vaemodels.datasets import DatasetUnavailable, load_dataset, load_samples
from vaemodels.errors import ConfigError
from vaemodels.npz_files import DSPRITES_FILE, DSPRITES_URL

GRID = (1, 3, 6, 2, 2, 2)  # colour, shape, scale, orientation, posX, posY: 144 images, a corner of dSprites' grid


def config(dataset: str, **keys) -> TrialConfig:
    return TrialConfig.from_dict({"dataset": dataset, **keys})


def tiny_dsprites() -> dict[str, np.ndarray]:
    """The keys, dtypes and layout of DeepMind's file, on a small grid, with random binary images."""
    classes = np.array(list(itertools.product(*(range(size) for size in GRID))), dtype=np.int64)  # (144, 6)
    images = np.random.default_rng(0).integers(0, 2, (len(classes), 64, 64), dtype=np.uint8)
    return {"imgs": images, "latents_classes": classes, "latents_values": classes.astype(np.float64) / 10}


def write_dsprites(folder: Path) -> dict[str, np.ndarray]:
    arrays = tiny_dsprites()
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / DSPRITES_FILE, **arrays)
    return arrays


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
