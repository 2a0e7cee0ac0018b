"""A dataset file of one's own (factor_npz): a file that cannot be trained on is refused with one line before any
training, its class and value names reach the explorer's legend, and the documented example writes a file that loads.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from explorer.latent.colouring import make_colouring
from explorer.latent.state import LatentState
from vaemodels.config import TrialConfig
from vaemodels.dataset_registry import DATASETS, FACTOR_NPZ_ENV, factor_npz_spec, register_factor_npz
from vaemodels.datasets import load_dataset
from vaemodels.errors import DatasetFileError, UserError

EXAMPLE = Path(__file__).parents[1] / "examples" / "write_own_dataset.py"
SHAPES = np.array(["square", "circle", "triangle"])
IMAGES = np.random.default_rng(0).integers(0, 256, (24, 8, 8), dtype=np.uint8)


def write(path: Path, **keys: np.ndarray) -> Path:
    """A small valid file (24 grey 8x8 uint8 images, factors 3 x 8), with keys replaced or added."""
    factors = np.stack([np.arange(24) % 3, np.arange(24) // 3], axis=1)  # (24, 2)
    np.savez_compressed(path, **{"images": IMAGES, "factors": factors, **keys})
    return path


@pytest.fixture
def registered():
    """Names registered by one test, removed after it (DATASETS is global)."""
    names = []

    def register(name: str, path: Path):
        names.append(name)
        return register_factor_npz(name, path)

    yield register
    for name in names:
        DATASETS.pop(name, None)


BAD_LAYOUTS = {
    "channels first, colour": (
        {"images": np.repeat(IMAGES[:, None], 3, axis=1)},
        r"\(24, 3, 8, 8\) are channels first",
    ),
    "channels first, grey": ({"images": IMAGES[:, None]}, r"channels first.*transpose\(0, 2, 3, 1\).*images\[:, 0\]"),
    "float factors": ({"factors": np.zeros((24, 2)) + 0.5}, "factors are float64, not integers: save each factor"),
    "float labels": ({"labels": np.linspace(0, 1, 24)}, "labels are float64, not integers"),
    "labels short": ({"labels": np.zeros(23, np.int64)}, r"labels \(23,\) does not hold one value for each of the 24"),
    "factors short": ({"factors": np.zeros((23, 2), np.int64)}, "factors has 23 rows but images has 24"),
    "too few label names": ({"label_names": SHAPES[:2]}, "label_names holds 2 names but labels go up to 2"),
}


@pytest.mark.parametrize("keys, problem", BAD_LAYOUTS.values(), ids=BAD_LAYOUTS.keys())
def test_a_file_that_cannot_be_trained_on_is_refused_at_registration_and_load_with_one_line(
    tmp_path, registered, keys, problem
):
    path = write(tmp_path / "own.npz", **keys)
    with pytest.raises(DatasetFileError, match=problem) as refused:
        factor_npz_spec("own", path)
    line = str(refused.value)
    assert isinstance(refused.value, UserError) and line.startswith(f"{path}: ") and "\n" not in line
    assert "intact" not in line  # the file is not damaged: the message says what to save instead
    if "label_names" not in keys:  # the loader reads no names; the rest it checks again, in case the file changed
        registered("own", write(path))
        write(path, **keys)
        with pytest.raises(DatasetFileError, match=problem):
            load_dataset(TrialConfig.from_dict({"dataset": "own"}))


@pytest.mark.parametrize(
    "pixels, problem",
    [
        (IMAGES.astype(np.float32), "images hold values from 0 to 255, outside"),  # 0..255 saved as float
        (IMAGES.astype(np.int64), "images hold values from 0 to 255, outside"),
        (np.where(IMAGES > 250, np.nan, IMAGES / 255.0), "images hold NaN values"),
    ],
)
def test_pixels_outside_0_to_1_are_refused_before_the_first_epoch(tmp_path, registered, pixels, problem):
    path = write(tmp_path / "own.npz", images=pixels)
    registered("own", path)  # the registry reads no pixels
    with pytest.raises(DatasetFileError, match=problem):
        load_dataset(TrialConfig.from_dict({"dataset": "own"}))


def test_train_on_float_pixels_of_0_to_255_exits_2_with_one_line_instead_of_diverging(tmp_path, cli, monkeypatch):
    path = write(tmp_path / "own.npz", images=IMAGES.astype(np.float64))
    monkeypatch.setitem(DATASETS, "own", factor_npz_spec("own", path))  # what LATENTSWEEP_DATASETS would register
    done = cli("train", "--dataset", "own", "--epochs", "1", "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "TrainingDiverged" not in done.stderr and "Traceback" not in done.stderr
    assert f"{path}: images hold values from 0 to 255, outside [0, 1]" in done.stderr
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_sweep_on_float_pixels_of_0_to_255_is_refused_before_ray_starts_or_anything_is_written(tmp_path, cli):
    path = write(tmp_path / "own.npz", images=IMAGES.astype(np.float64))
    done = cli("sweep", "--dataset-file", str(path), "--archs", "vae", "--storage", str(tmp_path / "results"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith(f"{path}: images hold values from 0 to 255, outside [0, 1] (as float, the "
                                        "model reads them as intensities in [0, 1]): save uint8 0..255 images as "
                                        "np.uint8, or divide float ones by their maximum")  # fmt: skip
    assert not (tmp_path / "results").exists()
    DATASETS.pop("own", None)


def test_names_reach_the_spec_and_the_legend_keeps_each_named_value_in_its_colour(tmp_path, registered):
    value_names = np.array([["square", "circle", "triangle", *[""] * 5], [""] * 8])  # factor 1 unnamed
    spec = registered("own", write(tmp_path / "own.npz", label_names=SHAPES, factor_value_names=value_names))
    assert spec.label_names == ("square", "circle", "triangle") and spec.num_classes == 3
    assert spec.factor_value_names == (("square", "circle", "triangle"), ())
    assert spec.value_names("factor_0") == spec.value_names("label") and spec.value_names("factor_1") == ()
    latents = pd.DataFrame({"label": [2, 0, 2, -1], "factor_1": [0, 7, 3, 3]})
    colouring = make_colouring(latents, "label", spec.value_names("label"))
    assert colouring.names == ("none", "square", "triangle") and colouring.codes.tolist() == [2, 1, 2, 0]
    without_circle = colouring.colors[1:]
    everything = make_colouring(pd.DataFrame({"label": [0, 1, 2]}), "label", spec.label_names)
    assert everything.names == ("square", "circle", "triangle")
    assert without_circle == (everything.colors[0], everything.colors[2])  # a class keeps its colour
    assert make_colouring(latents, "factor_1", spec.value_names("factor_1")).names == ("0", "3", "7")
    state = LatentState()
    state.trial = SimpleNamespace(config=TrialConfig.from_dict({"dataset": "own"}))
    assert [state.class_name(v) for v in (-1, 0, 2)] == ["none", "square", "triangle"]


def test_the_example_writes_a_file_that_registers_and_loads_with_its_names(tmp_path, registered, monkeypatch):
    path = tmp_path / "own_shapes.npz"
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), str(path)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    spec = registered("own_shapes", path)
    assert (spec.channels, spec.image_sizes, spec.factor_sizes) == (1, (32,), (3, 3, 10, 10)) and spec.has_oracle
    assert spec.label_names == ("square", "circle", "triangle")
    assert spec.value_names("scale") == ("small", "medium", "large") and spec.value_names("pos_x") == ()
    data = load_dataset(TrialConfig.from_dict({"dataset": "own_shapes"}))
    assert data.images.shape == (900, 1, 32, 32) and set(np.unique(data.images.numpy())) == {0, 255}
    areas = data.images.numpy().astype(bool).sum(axis=(1, 2, 3))  # (900,) white pixels a shape
    by_scale = [areas[data.factors[:, 1] == scale].mean() for scale in range(3)]
    assert 0 < by_scale[0] < by_scale[1] < by_scale[2]


def test_a_command_on_a_bad_file_named_by_the_environment_variable_exits_2_with_one_line(tmp_path):
    path = write(tmp_path / "own.npz", images=IMAGES[:, None])  # channels first
    env = {**os.environ, FACTOR_NPZ_ENV: f"own={path}", "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [sys.executable, "-m", "vaemodels.cli", "train", "--dataset", "own", "--out", str(tmp_path / "run")]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"own={path}': {path}: images (24, 1, 8, 8) are channels first" in done.stderr


def test_a_size_no_network_takes_is_refused_and_the_rule_is_the_conv_networks(tmp_path):
    from vaemodels.factor_npz_format import network_takes
    from vaemodels.networks import conv_body

    for size in range(8, 70):
        try:
            conv_body(1, 1, size, 4)
            built = True
        except ValueError:
            built = False
        assert network_takes(size) == built, size
    path = write(tmp_path / "own.npz", images=np.zeros((24, 36, 36), np.uint8))
    with pytest.raises(DatasetFileError, match="images are 36x36, a size no network takes: resize them"):
        factor_npz_spec("own", path)
