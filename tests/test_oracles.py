"""Factor oracles: what they render for a factor row is the dataset's own image of that row."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.datasets import GRID, write_dsprites
from vaemodels.config import TrialConfig
from vaemodels.dataset_registry import DATASETS, DatasetSpec
from vaemodels.datasets import load_dataset
from vaemodels.npz_files import dsprites_arrays
from vaemodels.oracles import GridOracle, ShapesOracle, load_oracle


def config(dataset: str, **keys) -> TrialConfig:
    return TrialConfig.from_dict({"dataset": dataset, **keys})


def test_the_registry_names_an_oracle_for_shapes_and_dsprites_and_none_for_mnist():
    assert DATASETS["shapes"].has_oracle and DATASETS["dsprites"].has_oracle
    assert not DATASETS["mnist"].has_oracle and not DATASETS["mnist_5k"].has_oracle
    assert load_oracle(config("mnist_5k")) is None


def test_an_oracle_without_factors_is_refused_when_the_spec_is_made():
    with pytest.raises(ValueError, match="oracle but no factors"):
        DatasetSpec("x", 1, 2, "x", (8,), loader="m:f", oracle="m:g")


@pytest.mark.parametrize("image_size", [32, 64])
def test_shapes_oracle_renders_the_datasets_images_of_the_same_factors(image_size):
    data = load_dataset(config("shapes", n_samples=64, image_size=image_size, data_seed=5))
    oracle = load_oracle(config("shapes", image_size=image_size))
    assert isinstance(oracle, ShapesOracle) and oracle.factor_sizes == DATASETS["shapes"].factor_sizes
    np.testing.assert_array_equal(oracle.observations(data.factors), data.images.numpy())


def test_shapes_oracle_samples_every_value_of_every_factor_on_its_grid():
    factors = ShapesOracle(32).sample_factors(20_000, np.random.default_rng(0))
    assert factors.shape == (20_000, 5)
    for column, size in enumerate(DATASETS["shapes"].factor_sizes):
        assert set(np.unique(factors[:, column])) == set(range(size))  # 20,000 draws cover a grid of 40


def test_dsprites_oracle_looks_up_the_image_of_each_factor_row(tmp_path):
    write_dsprites(tmp_path)
    cfg = config("dsprites", data_dir=str(tmp_path))
    data = load_dataset(cfg)
    # The tiny file covers a corner of the grid (GRID without the colour), in a shuffled order here.
    oracle = GridOracle(dsprites_arrays(cfg), GRID[1:], "dsprites")
    rows = np.random.default_rng(1).permutation(len(data.factors))[:40]
    expected = data.images[rows].numpy().astype(np.float32) / 255.0
    np.testing.assert_array_equal(oracle.observations(data.factors[rows]), expected)
    sampled = oracle.sample_factors(500, np.random.default_rng(2))
    assert (sampled < np.asarray(GRID[1:])).all() and oracle.observations(sampled).shape == (500, 1, 64, 64)


def test_dsprites_oracle_refuses_a_file_that_lacks_factor_combinations(tmp_path):
    write_dsprites(tmp_path)  # 144 of the 737,280 combinations of the registered grid
    with pytest.raises(ValueError, match="lacks 737136 of its 737280 factor combinations"):
        load_oracle(config("dsprites", data_dir=str(tmp_path)))
