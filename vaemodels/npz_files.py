"""Datasets read whole from one .npz file: DeepMind's dSprites, and any file of images with factors (factor_npz).

The pixels stay uint8 in memory (dSprites: 737,280 images, 3 GB; 12 GB as float32); Dataset.batch converts each
batch. A compressed .npz cannot be memory-mapped, so a file is read whole once per process.
"""

from __future__ import annotations

import functools
import http.client
import os
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from vaemodels.dataset_registry import FACTOR_NPZ_LOADER, DatasetSpec, npz_header
from vaemodels.datasets import DEFAULT_DATA_DIR, Dataset, DatasetUnavailable, _check_ids, _keep_subset, _random_split
from vaemodels.factor_npz_format import layout_problem, pixel_problem, refuse
from vaemodels.storage import new_file_mode

if TYPE_CHECKING:
    from vaemodels.config import TrialConfig

DSPRITES_FILE = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_URL = f"https://github.com/deepmind/dsprites-dataset/raw/master/{DSPRITES_FILE}"
DSPRITES_FOLDER = "dsprites"  # <data_dir>/dsprites/<DSPRITES_FILE>, where --download puts it
# latents_classes columns: colour (always 0), shape, scale, orientation, posX, posY; the factors drop the colour.
_DSPRITES_FACTOR_COLUMNS = slice(1, 6)
_REFETCH = "delete it and run again with --download, or copy an intact file there"
_READ_ERRORS = (EOFError, IndexError, KeyError, OSError, ValueError, zipfile.BadZipFile)


@dataclass(frozen=True)
class NpzArrays:
    """A file's whole dataset as read; read-only, as the sample loaders cache it."""

    pixels: np.ndarray  # (N, C, H, W) uint8 in 0..255, or float32 in [0, 1]
    labels: np.ndarray  # (N,) int64
    factors: np.ndarray  # (N, k) int16 grid indices, columns = spec.factor_names


class _File(NamedTuple):
    """A file with its modification time and size, so that the cache reads a replaced file again."""

    path: Path
    mtime_ns: int
    size: int


# ---- dsprites


def load_dsprites(spec: DatasetSpec, config: TrialConfig, download: bool) -> Dataset:
    """dSprites from data_dir (downloaded first if asked and missing), subset to n_samples, with a seeded split."""
    return from_npz_arrays(spec, config, _read_dsprites(_stamp(_dsprites_path(config, download))))


def dsprites_samples(spec: DatasetSpec, config: TrialConfig, ids: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """The dSprites images of the given sample ids (indices into all 737,280), from data_dir (never downloads)."""
    return pick_npz_samples(_cached(_read_dsprites, _stamp(_dsprites_path(config, False))), ids, spec.name)


def dsprites_arrays(config: TrialConfig) -> NpzArrays:
    """The whole of dSprites from data_dir (never downloads), read once while the file is unchanged."""
    return _cached(_read_dsprites, _stamp(_dsprites_path(config, False)))


def _dsprites_path(config: TrialConfig, download: bool) -> Path:
    """The dSprites file in data_dir/dsprites or data_dir itself, fetched into data_dir/dsprites if asked."""
    data_dir = Path(config.data.data_dir or DEFAULT_DATA_DIR).expanduser().absolute()
    folders = (data_dir / DSPRITES_FOLDER, data_dir)
    found = next((folder / DSPRITES_FILE for folder in folders if (folder / DSPRITES_FILE).is_file()), None)
    if found is None and download:
        found = _download(DSPRITES_URL, folders[0] / DSPRITES_FILE)
    if found is None:
        raise DatasetUnavailable(
            f"dataset 'dsprites' needs {DSPRITES_FILE} in {folders[0]} or {data_dir}, and it is in neither. "
            f"Get it with --download (fetched from {DSPRITES_URL} into {folders[0]}), or copy the file there "
            "(another folder: --data-dir DIR)"
        )
    return found


def _read_dsprites(file: _File) -> NpzArrays:
    """The whole of dSprites: imgs scaled in place from {0, 1} to {0, 255}, the shape as label, five factors."""
    try:
        with np.load(file.path) as npz:
            images, classes = npz["imgs"], npz["latents_classes"]  # (N, 64, 64) uint8, (N, 6) int64
    except _READ_ERRORS as error:
        raise _corrupt(file.path, f"numpy cannot read it ({type(error).__name__}: {error})", _REFETCH) from error
    if images.ndim != 3 or images.shape[1:] != (64, 64) or classes.shape != (len(images), 6):
        problem = f"imgs {images.shape} and latents_classes {classes.shape} are not dSprites'"
        raise _corrupt(file.path, problem, _REFETCH)
    if images.max(initial=0) <= 1:  # DeepMind's {0, 1}; a copy already saved as 0..255 would wrap round
        np.multiply(images, 255, out=images)  # in place: the uint8 convention of Dataset.images, without a copy
    factors = classes[:, _DSPRITES_FACTOR_COLUMNS].astype(np.int16)
    return NpzArrays(images[:, None], factors[:, 0].astype(np.int64), factors)


# ---- factor_npz: a user's file of `images` and `factors`


def load_factor_npz(spec: DatasetSpec, config: TrialConfig, download: bool) -> Dataset:
    """A factor_npz dataset from its spec's data_file (nothing to download), subset to n_samples, seeded split."""
    path = _factor_npz_path(spec)
    arrays = _read_factor_npz(_stamp(path))
    _check_matches_spec(spec, path, arrays)
    return from_npz_arrays(spec, config, arrays)


def factor_npz_samples(
    spec: DatasetSpec, config: TrialConfig, ids: np.ndarray, factors: np.ndarray | None
) -> np.ndarray:
    """The images of the given sample ids (row indices into the whole file)."""
    return pick_npz_samples(_cached(_read_factor_npz, _stamp(_factor_npz_path(spec))), ids, spec.name)


def factor_npz_arrays(spec: DatasetSpec) -> NpzArrays:
    """The whole file of a factor_npz dataset, read once while the file is unchanged, checked against its spec."""
    path = _factor_npz_path(spec)
    arrays = _cached(_read_factor_npz, _stamp(path))
    _check_matches_spec(spec, path, arrays)
    return arrays


def refuse_float_pixels(spec: DatasetSpec) -> None:
    """Refuse a factor_npz file whose float images leave [0, 1] (DatasetFileError naming it) before a sweep starts,
    not in every trial's first epoch. The file is read only when its images are float, as such files are made by
    hand; uint8 pixels are in range by their type, so dSprites-sized files cost the driver nothing."""
    if spec.loader == FACTOR_NPZ_LOADER and npz_header(_factor_npz_path(spec), "images")[1] != np.uint8:
        factor_npz_arrays(spec)


def _check_matches_spec(spec: DatasetSpec, path: Path, arrays: NpzArrays) -> None:
    """A file replaced since its spec was made would give the model wrong channels or out-of-range labels."""
    _, channels, size, _ = arrays.pixels.shape
    made = (channels, size, arrays.factors.shape[1])
    expected = (spec.channels, spec.default_image_size, len(spec.factor_names))
    if made != expected or (len(arrays.labels) and arrays.labels.max() >= spec.num_classes):
        raise DatasetUnavailable(
            f"{path} no longer matches dataset {spec.name!r} (channels, size, factors {made}, expected {expected}, "
            f"labels below {spec.num_classes}); register it again from the file as it is now"
        )


def _factor_npz_path(spec: DatasetSpec) -> Path:
    """The spec's file, which must still be where it was when the spec was made."""
    path = Path(spec.data_file or "").expanduser().absolute()
    if spec.data_file is None or not path.is_file():
        raise DatasetUnavailable(
            f"dataset {spec.name!r} reads {path if spec.data_file else 'a file its spec does not name'}, which is "
            "missing; copy the .npz there, or register the dataset again with the file's new path"
        )
    return path


def _read_factor_npz(file: _File) -> NpzArrays:
    """The whole file: images as (N, C, H, W) uint8 (or float32 in [0, 1]), labels (default: factor 0), factors;
    a file that could not be trained on raises DatasetFileError naming it, the problem and what to save instead."""
    try:
        with np.load(file.path) as npz:
            images, factors = npz["images"], npz["factors"]
            labels = npz["labels"] if "labels" in npz.files else None
    except _READ_ERRORS as error:
        raise _corrupt(file.path, f"numpy cannot read it ({type(error).__name__}: {error})") from error
    refuse(file.path, layout_problem(images.shape, factors, labels))
    labels = factors[:, 0] if labels is None else labels
    images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W), a view
    if images.dtype != np.uint8:
        images = images.astype(np.float32, copy=False)  # a float file is already float-sized
        refuse(file.path, pixel_problem(images))
    elif images.max(initial=0) == 1:  # binary masks saved as 0 and 1 (dSprites' own way) would read almost black
        np.multiply(images, 255, out=images)  # one pass of max: some 0.2 s for 700,000 64x64 images (2.9 GB)
        print(f"warning: {file.path}: its uint8 images hold only 0 and 1, read as 0 and 255", file=sys.stderr)
    return NpzArrays(images, labels.astype(np.int64), factors.astype(np.int16))


# ---- shared by both


def from_npz_arrays(spec: DatasetSpec, config: TrialConfig, arrays: NpzArrays) -> Dataset:
    """The seeded n_samples subset with its seeded split; the pixels keep their dtype."""
    seed = config.data.data_seed
    n_full = len(arrays.pixels)
    rows = _keep_subset(n_full, config.data.n_samples or spec.default_n_samples, seed, None)
    # The uint8 rows are picked before anything else touches them; the whole set is used as is, not copied.
    pixels = arrays.pixels if len(rows) == n_full else arrays.pixels[rows]
    train_idx, val_idx = _random_split(len(rows), seed)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(pixels),
        labels=torch.from_numpy(arrays.labels[rows]),
        factors=arrays.factors[rows],
        sample_ids=rows,
        train_idx=torch.from_numpy(train_idx.astype(np.int64)),
        val_idx=torch.from_numpy(val_idx.astype(np.int64)),
    )


def pick_npz_samples(arrays: NpzArrays, ids: np.ndarray, name: str) -> np.ndarray:
    """The float32 images in [0, 1] of the given sample ids."""
    _check_ids(ids, 0, len(arrays.pixels), name)
    pixels = np.ascontiguousarray(arrays.pixels[ids])  # a channels-last file's rows come out (n, C, H, W) in order
    return pixels.astype(np.float32) / np.float32(255.0) if pixels.dtype == np.uint8 else pixels


@functools.lru_cache(maxsize=2)
def _cached(read, file: _File) -> NpzArrays:
    """A read kept while the file is unchanged: the explorer asks for a few samples at a time, often.

    Training does not use it: with n_samples set, the cache would keep the whole set alive beside the subset.
    """
    return _frozen(read(file))


def _frozen(arrays: NpzArrays) -> NpzArrays:
    """Mark the arrays read-only, so that a cached copy cannot be changed by a caller."""
    for array in (arrays.pixels, arrays.labels, arrays.factors):
        array.setflags(write=False)
    return arrays


def _stamp(path: Path) -> _File:
    """The file with its current modification time and size."""
    stat = path.stat()
    return _File(path, stat.st_mtime_ns, stat.st_size)


def _download(url: str, target: Path) -> Path:
    """Fetch url into target through a temporary file beside it, so that a cut-off download leaves no file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.fchmod(handle, new_file_mode())  # mkstemp makes 0600, which the rename would keep
    os.close(handle)
    try:
        urllib.request.urlretrieve(url, partial)
        os.replace(partial, target)
    except (OSError, http.client.HTTPException) as error:  # no network, a moved URL, a cut connection, a full disk
        raise DatasetUnavailable(f"downloading {url} into {target.parent} failed: {error}") from error
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def _corrupt(path: Path, problem: str, remedy: str = "replace it with an intact copy") -> DatasetUnavailable:
    """The error for an unreadable dataset file, naming it and the way out."""
    return DatasetUnavailable(f"{path} is not a valid dataset file: {problem}. {remedy[0].upper()}{remedy[1:]}")
