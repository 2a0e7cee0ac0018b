"""Factor oracles: observations of any factor values, for the scores that need fresh samples (BetaVAE, FactorVAE,
and every score at the reference setting).

`shapes` renders its sprites from the factors; `dsprites`, and a factor_npz file that holds every combination of its
factors, give as observation the image at that combination's row. The dataset registry names each dataset's oracle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vaemodels.dataset_registry import DATASETS, DatasetSpec, resolve_loader
from vaemodels.shapes import FACTOR_SIZES, render_shapes

if TYPE_CHECKING:
    from vaemodels.config import TrialConfig
    from vaemodels.npz_files import NpzArrays
    from vaemodels.scores import FactorOracle


def _uniform(factor_sizes: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) int64 factor indices, each factor uniform on its grid (how shapes and dSprites are drawn)."""
    return rng.integers(0, np.asarray(factor_sizes), size=(n, len(factor_sizes)))


class ShapesOracle:
    """The procedural sprites of vaemodels/shapes.py at one image size."""

    factor_sizes = FACTOR_SIZES

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, 5) factor indices, uniform on the grids."""
        return _uniform(self.factor_sizes, n, rng)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        """(n, 1, S, S) float32 sprites of the factor rows."""
        return render_shapes(factors, self.image_size)


class GridOracle:
    """A dataset file that holds every combination of its factors: an observation is the image at its row."""

    def __init__(self, arrays: NpzArrays, factor_sizes: tuple[int, ...], name: str) -> None:
        self.arrays, self.factor_sizes = arrays, tuple(factor_sizes)
        flat = np.ravel_multi_index(arrays.factors.astype(np.int64).T, self.factor_sizes)  # (N,) combination index
        self.row_of = np.full(int(np.prod(self.factor_sizes)), -1, dtype=np.int64)  # combination -> row
        self.row_of[flat] = np.arange(len(flat))
        missing = int((self.row_of < 0).sum())
        if missing:
            raise ValueError(f"dataset {name!r} lacks {missing} of its {self.row_of.size} factor combinations")

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, k) factor indices, uniform on the grids (each image equally likely)."""
        return _uniform(self.factor_sizes, n, rng)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        """(n, C, H, W) float32 images in [0, 1] of the factor rows."""
        rows = self.row_of[np.ravel_multi_index(np.asarray(factors, dtype=np.int64).T, self.factor_sizes)]  # (n,)
        pixels = np.ascontiguousarray(self.arrays.pixels[rows])
        return pixels.astype(np.float32) / np.float32(255.0) if pixels.dtype == np.uint8 else pixels


def shapes_oracle(spec: DatasetSpec, config: TrialConfig) -> ShapesOracle:
    """The oracle of `shapes` at the trial's image size."""
    return ShapesOracle(config.data.image_size)


def dsprites_oracle(spec: DatasetSpec, config: TrialConfig) -> GridOracle:
    """The oracle of `dsprites`: its file from data_dir (never downloaded here), read once a process."""
    from vaemodels.npz_files import dsprites_arrays  # imports torch: only when dSprites is scored

    return GridOracle(dsprites_arrays(config), spec.factor_sizes, spec.name)


def factor_npz_oracle(spec: DatasetSpec, config: TrialConfig) -> GridOracle:
    """The oracle of a full-factorial factor_npz file (factor_npz_spec gives it one only then): a lookup by factors."""
    from vaemodels.npz_files import factor_npz_arrays  # imports torch: only when the dataset is scored

    return GridOracle(factor_npz_arrays(spec), spec.factor_sizes, spec.name)


def load_oracle(config: TrialConfig) -> FactorOracle | None:
    """The oracle of the config's dataset, or None when its registry entry names none."""
    spec = DATASETS.get(config.data.dataset)
    if spec is None or spec.oracle is None:
        return None
    return resolve_loader(spec.oracle)(spec, config)
