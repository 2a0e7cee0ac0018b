"""The IDX datasets (MNIST, Fashion-MNIST): found in data_dir, read with torchvision's own IDX readers, cached.

A folder may hold all four files, or only one part: the test files alone load as the 10,000-image test set, the
training files alone as the 60,000-image training set (each then split at random, like mnist_5k).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from vaemodels.dataset_registry import DatasetSpec
from vaemodels.datasets import (
    DEFAULT_DATA_DIR,
    Dataset,
    DatasetUnavailable,
    RawArrays,
    from_arrays,
    pick_samples,
    read_only,
)

if TYPE_CHECKING:
    from vaemodels.config import TrialConfig

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_IDX_PARTS = {"train": IDX_FILES[:2], "t10k": IDX_FILES[2:]}  # part -> (images, labels)
# A test-only folder's row r gets sample id IDX_TRAIN_SIZE + r: the id of that image in the full 70,000-image
# train+test order, so results made from the test files alone name the same images as results from all four.
IDX_TRAIN_SIZE = 60_000  # MNIST's and Fashion-MNIST's official training set
_READ_ERRORS = (AssertionError, EOFError, KeyError, OSError, RuntimeError, TypeError, ValueError)


def load_idx(spec: DatasetSpec, config: TrialConfig, download: bool) -> Dataset:
    """An IDX dataset (spec.torchvision_name) from data_dir; downloads first if asked and needed."""
    return from_arrays(spec, config, _idx_arrays(spec, _data_dir(config), download))


def idx_samples(spec: DatasetSpec, config: TrialConfig, ids: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """The images of the given sample ids, from the IDX files in data_dir (never downloads)."""
    return pick_samples(_idx_arrays(spec, _data_dir(config), download=False), ids, spec.name)


class _File(NamedTuple):
    """A file with its modification time and size, so that the cache reads a replaced file again."""

    path: Path
    mtime_ns: int
    size: int


def _data_dir(config: TrialConfig) -> Path:
    """config's data_dir (or the default) as an absolute path."""
    return Path(config.data.data_dir or DEFAULT_DATA_DIR).expanduser().absolute()


def _idx_folders(spec: DatasetSpec, data_dir: Path) -> tuple[Path, Path]:
    """Where the IDX files are looked for, in order."""
    # The dataset's own torchvision folder comes first: MNIST and Fashion-MNIST files share their names.
    return data_dir / spec.torchvision_name / "raw", data_dir


def _idx_arrays(spec: DatasetSpec, data_dir: Path, download: bool) -> RawArrays:
    """The dataset's IDX files as arrays: train followed by test, or one of the two parts alone."""
    folders = _idx_folders(spec, data_dir)
    parts = _find_parts(folders)
    if download and (parts is None or len(parts) < len(_IDX_PARTS)):  # --download completes a partial set too
        _download(spec, data_dir)
        parts = _find_parts(folders)
    if parts is None:
        raise DatasetUnavailable(_missing_message(spec, folders))
    return _read_parts(tuple((part, _stamp(images), _stamp(labels)) for part, (images, labels) in parts))


def _stamp(path: Path) -> _File:
    """The file with its current modification time and size."""
    stat = path.stat()
    return _File(path, stat.st_mtime_ns, stat.st_size)


def _found_files(folder: Path) -> dict[str, Path]:
    """Which of IDX_FILES the folder holds (name -> path), the plain file preferred over its .gz."""
    found = {}
    for name in IDX_FILES:
        path = next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
        if path is not None:
            found[name] = path
    return found


def _find_parts(folders: tuple[Path, ...]) -> list[tuple[str, tuple[Path, Path]]] | None:
    """The (part, (images, labels)) pairs of the first folder whose files all form complete pairs; else None.

    A folder holding one file of a pair without the other is skipped: it is a broken copy or download, and using
    the other part alone would silently change the split. A folder with the test files alone (or the training
    files alone) is complete: it loads with a seeded VAL_FRACTION split.
    """
    for folder in folders:
        found = _found_files(folder)
        parts = [(part, (found[i], found[j])) for part, (i, j) in _IDX_PARTS.items() if i in found and j in found]
        if parts and 2 * len(parts) == len(found):  # every file found belongs to a complete pair
            return parts
    return None


@functools.lru_cache(maxsize=4)
def _read_parts(parts: tuple[tuple[str, _File, _File], ...]) -> RawArrays:
    """Read and join the parts; cached while the files are unchanged, as the explorer reloads samples often."""
    images, labels = zip(*(_read_pair(image_file.path, label_file.path) for _, image_file, label_file in parts))
    pixels = np.concatenate(images)[:, None]  # (N, 1, 28, 28)
    names = [part for part, _, _ in parts]
    if names == ["train", "t10k"]:
        return read_only(RawArrays(pixels, np.concatenate(labels), 0, len(images[0])))
    return read_only(RawArrays(pixels, labels[0], IDX_TRAIN_SIZE if names == ["t10k"] else 0, None))


def _read_pair(image_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One part's images (n, 28, 28) uint8 and labels (n,) int64, checked against each other."""
    from torchvision.datasets.mnist import read_image_file, read_label_file  # slow import, only IDX datasets need it

    images, labels = _read_idx(image_path, read_image_file), _read_idx(label_path, read_label_file)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise _corrupt(image_path, f"{images.shape} images do not match {len(labels)} labels in {label_path}")
    return images, labels


def _read_idx(path: Path, reader: Callable[[str], torch.Tensor]) -> np.ndarray:
    """One IDX file read with a torchvision reader (which opens plain files only: a .gz is unpacked to a temp folder).

    torchvision checks the header with `assert`, and a size that does not match the header fails its reshape, so
    every failure of a damaged file becomes DatasetUnavailable naming the file.
    """
    from torchvision.datasets.utils import extract_archive

    try:
        if path.suffix != ".gz":
            return reader(str(path)).numpy()
        # A temporary folder rather than beside the .gz: data_dir may be read-only or shared.
        with tempfile.TemporaryDirectory() as folder:
            return reader(extract_archive(str(path), folder)).numpy()
    except _READ_ERRORS as error:  # gzip.BadGzipFile is an OSError; a cut-off .gz raises EOFError
        detail = str(error) or "bad header"  # torchvision's header asserts carry no message
        raise _corrupt(path, f"torchvision cannot read it ({type(error).__name__}: {detail})") from error


def _download(spec: DatasetSpec, data_dir: Path) -> None:
    """Fetch the IDX files with torchvision into <data_dir>/<TorchvisionName>/raw/."""
    import torchvision.datasets  # imported here: slow, and only downloads need it

    try:
        getattr(torchvision.datasets, spec.torchvision_name)(root=str(data_dir), train=True, download=True)
    except (OSError, RuntimeError) as error:  # no network, a mirror down, a full disk
        raise DatasetUnavailable(f"downloading {spec.name!r} into {data_dir} failed: {error}") from error


def _missing_message(spec: DatasetSpec, folders: tuple[Path, ...]) -> str:
    """Where the files were looked for, which were found and which not, and the two ways to get them."""
    holdings = []
    for folder in folders:
        found = _found_files(folder)
        if found:
            missing = ", ".join(name for name in IDX_FILES if name not in found)
            holdings.append(f"{folder} holds {', '.join(p.name for p in found.values())} but lacks {missing}")
    state = "; ".join(holdings) or f"none of {', '.join(IDX_FILES)} is there"
    raw, data_dir = folders
    return (
        f"dataset {spec.name!r} needs its IDX files in {raw} or {data_dir}, each plain or .gz: {state}. "
        "All four give the official split; both t10k files (or both train files) alone load too, with a seeded "
        f"split. Get them with --download (torchvision fetches them into {raw}), or copy the files into {data_dir} "
        "(another folder: --data-dir DIR)"
    )


def _corrupt(path: Path, problem: str) -> DatasetUnavailable:
    """The error for an unreadable dataset file, naming it and the way out."""
    return DatasetUnavailable(
        f"{path} is not a valid IDX file: {problem}. Delete it and run again with --download, "
        "or copy an intact file there"
    )
